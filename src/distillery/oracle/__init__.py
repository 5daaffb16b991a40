"""Oracle labelling: ask an expensive LLM (any OpenAI-compatible endpoint) to score articles.

``config`` (conf/oracle/*.yaml + flags), ``client`` (the openai SDK), ``parsing`` (validate and
repair answers), ``ledger`` (durable cache of every answer), ``ratelimit``, ``scorer``
(concurrent online scoring), ``batch`` (OpenAI Batch API), ``run`` (the ``score`` command),
``prepare`` (merge, dedupe and split labelled data).
"""
