"""Text a user typed, shown inside Streamlit's Markdown as the characters it is.

st.error/st.info/st.warning render Markdown: a stack typed as `input 32*32*1` came back as
"input 32321" with "32" in italics. Every message that can echo user text goes through
`plain` first."""

from __future__ import annotations

import re

# What starts inline formatting anywhere in a line: emphasis (`*`; an `_` inside a word, as in
# min_degrees, never does), code, links, HTML, LaTeX ($),
# strikethrough and tables. (`-`, `+`, `#` and `.` matter only where a line starts: messages
# do not start with user text.)
_SPECIAL = re.compile(r"([\\`*\[\]<>$~|])")


def plain(text: str) -> str:
    """`text` with every Markdown character escaped, so it shows exactly as written."""
    return _SPECIAL.sub(r"\\\1", text)
