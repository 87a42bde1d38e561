"""All Streamlit cache wrappers, in one place.

st.cache_resource: heavy shared objects (models, weights), one copy for all sessions.
st.cache_data: traces, tables, images (small, hashable inputs, copied per session).
"""

from __future__ import annotations

import streamlit as st

import explorer
from explorer.trace import Trace


@st.cache_data(max_entries=256, show_spinner="Tracing the network…")
def trace(arch: str, input_size: tuple[int, int, int] | None = None, batch_size: int = 1) -> Trace:
    return explorer.trace(arch, input_size=input_size, batch_size=batch_size)

# --- Explore pages: data-flow graphs, diagrams, receptive fields (issue 4) ------------------
from explorer import diagram as _diagram  # noqa: E402
from explorer import graph as _graph  # noqa: E402
from explorer.receptive import receptive_fields as _receptive_fields  # noqa: E402

Size = tuple[int, int, int] | None


@st.cache_resource(max_entries=64, show_spinner="Following the data through the network…")
def recording(arch: str, input_size: Size = None, batch_size: int = 1) -> _graph.Recording:
    """One recorded meta forward pass, shared by all sessions (immutable, never copied)."""
    return _graph.record_architecture(arch, input_size, batch_size)


@st.cache_data(max_entries=256, show_spinner="Drawing the block diagram…")
def data_flow(
    arch: str, input_size: Size = None, batch_size: int = 1, depth: int | None = None,
    collapse: bool = True,
) -> _graph.DataFlowGraph:
    rec = recording(arch, input_size, batch_size)
    macs = {r.name: r.macs for r in trace(arch, input_size, batch_size).layers}
    depth = _graph.auto_depth(rec) if depth is None else depth
    return _graph.build_graph(rec, depth, collapse=collapse, macs=macs)


@st.cache_data(max_entries=256, show_spinner=False)
def diagram_dot(
    arch: str, input_size: Size = None, batch_size: int = 1, depth: int | None = None,
    collapse: bool = True,
) -> str:
    return _diagram.to_dot(data_flow(arch, input_size, batch_size, depth, collapse))


@st.cache_data(max_entries=32, show_spinner="Rendering the diagram…")
def diagram_image(
    arch: str, input_size: Size, batch_size: int, depth: int | None, collapse: bool, fmt: str
) -> bytes:
    return _diagram.render(data_flow(arch, input_size, batch_size, depth, collapse), fmt)


@st.cache_data(max_entries=256, show_spinner=False)
def receptive_fields(arch: str, input_size: Size = None) -> dict[str, int]:
    return _receptive_fields(recording(arch, input_size, 1))


@st.cache_data(max_entries=256, show_spinner=False)
def weight_layer_depth(arch: str) -> int:
    return _graph.weight_layer_depth(recording(arch, None, 1))


# Cost lab: the lecture's blocks at the sizes the sliders choose (builder name + plain ints).
BlockArgs = tuple[tuple[str, int], ...]


def _block_spec(builder: str, kwargs: BlockArgs) -> explorer.ArchSpec:
    from explorer.architectures import blocks

    allowed = {"naive_conv_spec", "bottleneck_conv_spec", "inception_module_spec"}
    if builder not in allowed:
        raise ValueError(f"unknown block builder {builder!r}")
    spec: explorer.ArchSpec = getattr(blocks, builder)(**dict(kwargs))
    return spec


@st.cache_data(max_entries=256, show_spinner="Tracing the block…")
def block_trace(builder: str, kwargs: BlockArgs) -> Trace:
    return explorer.trace(_block_spec(builder, kwargs))


@st.cache_data(max_entries=128, show_spinner="Drawing the block…")
def block_dot(builder: str, kwargs: BlockArgs, depth: int = 1) -> str:
    spec = _block_spec(builder, kwargs)
    t = block_trace(builder, kwargs)
    graph = _graph.build_graph(
        _graph.record_architecture(spec), depth, collapse=False,
        macs={r.name: r.macs for r in t.layers},
    )
    return _diagram.to_dot(graph)

# --- Prediction lab: models with weights, features for new heads (issue 6) -----------------
from typing import Any  # noqa: E402

from explorer import transfer as _transfer  # noqa: E402
from explorer import weights as _weights  # noqa: E402


@st.cache_resource(max_entries=8, show_spinner="Loading the model and its weights…")
def loaded_model(arch: str, weights: str = "DEFAULT", device: str = "auto") -> _weights.LoadedModel:
    """A model ready for inference, shared by all sessions (weights: name, file path, random)."""
    return _weights.load(arch, weights, device=device)


@st.cache_data(max_entries=64, show_spinner=False)
def freeze_plan(arch: str, k: int, num_classes: int | None = None) -> _transfer.FreezePlan:
    return _transfer.freeze_plan(arch, k, num_classes)


@st.cache_data(max_entries=4, show_spinner="Computing the frozen backbone's features once…")
def digits_features(device: str = "auto") -> tuple[Any, Any, Any, Any]:
    return _transfer.digits_features(loaded_model("lenet5-digits", "DEFAULT", device))


@st.cache_data(max_entries=64, show_spinner="Computing the frozen backbone's features…")
def upload_features(arch: str, weights: str, device: str, images: tuple[bytes, ...]) -> Any:
    """Backbone features of uploaded images (keyed by their bytes: computed once per image set)."""
    from explorer.images import decode_image

    pictures = [decode_image(b) for b in images]
    return _transfer.image_features(loaded_model(arch, weights, device), pictures)
