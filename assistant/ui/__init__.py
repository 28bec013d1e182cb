"""The Gradio web UI: Chat, Compare and Decide views over one `Assistant`.

Modules: `app` builds the Blocks (`create_app`), `server` launches it (auth, loopback warning,
queue), `runtime` loads the assistant (building the index on first start), `chat`, `compare`,
`decide` hold each view's handlers, `sources_panel` renders citations as escaped HTML,
`feedback` stores thumbs up/down and exports them as eval cases, `cli` adds `assistant serve` and
`assistant feedback export`.

Nothing here imports gradio at package import time: `assistant --help` stays fast.
"""
