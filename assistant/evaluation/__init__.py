"""The eval harness: answer quality measured against the guide's factor table, per engine, next to a
naive "LangChain tutorial" baseline. `assistant eval` (see `cli.py`) runs it; eval/README.md defines
every metric."""
