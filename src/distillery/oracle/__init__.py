"""Oracle labelling: ask an expensive LLM (any OpenAI-compatible endpoint) to score articles.

``config`` (conf/oracle/*.yaml + flags), ``options`` (:class:`OracleOptions`: the oracle settings
``score``, ``synthesize`` and ``active-learn`` share), ``client`` (the openai SDK), ``parsing``
(validate and repair answers), ``ledger`` (durable cache of every answer), ``ratelimit``,
``scorer`` (:class:`OracleScorer`: concurrent online scoring), ``batch`` (OpenAI Batch API),
``plan`` (:func:`plan_jobs`: what to send given the ledger, and its cost), ``run`` (the ``score``
command), ``synthesize`` + ``synth_report`` (the ``synthesize`` command), ``prepare`` (merge,
dedupe and split labelled data).
"""
