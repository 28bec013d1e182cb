"""Stack Assistant's benchmarks: `assistant bench [--quick]` (see BENCHMARKS.md).

Each figure is measured beside its raw anchor in the same run (the embedding model's own
`encode`, Chroma's own query, llama.cpp's own chat completion) and reported as a ratio, so a
busy or slow machine moves both sides together. One module per job:

    measure    timing, percentiles, peak RSS, child processes, machine facts
    synth      deterministic synthetic corpora generated from the related docs
    ingestion  ingest vs raw encode; unchanged re-ingest
    scale      1k / 10k / 100k chunks: throughput, index size, RSS, retrieval latency
    retrieval  hybrid (as the chain runs it) vs raw dense
    answers    per engine: first token, total, tokens/s vs llama.cpp called directly
    startup    process start to HTTP 200 and to the first answer; app peak RSS per engine
    peer       the naive tutorial pipeline on the same questions
    report     results.json -> BENCHMARKS.md and the chart
    run        the profiles (quick / full) and the order of the stages
"""
