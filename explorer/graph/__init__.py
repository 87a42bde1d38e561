"""The data-flow graph replayed from a recording at any depth (dataflow, collapse), the main path,
receptive fields, and block diagrams drawn by graphviz (diagram)."""
