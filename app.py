"""The optical-st Gradio demo, as Hugging Face Spaces and ``python app.py`` expect it at the top level.

The demo itself lives in :mod:`optical_st.app` so that an installed package (``optical-st demo``)
carries it too; this file only starts it.
"""

from optical_st.app import build_demo, launch, main

__all__ = ["build_demo", "launch", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
