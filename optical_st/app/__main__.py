"""``python -m optical_st.app``: start the demo (as ``optical-st demo`` and the top-level ``app.py`` do)."""

from optical_st.app import main

raise SystemExit(main())
