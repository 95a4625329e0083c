"""What both front ends share: the page and the API serve through the same code.

    startup.py          one `build_services`: model, store, registry, live model, metrics
    predict_and_log.py  read a picture and log the prediction (inline or on a worker thread)
    idempotency.py      the same Idempotency-Key and picture get the first answer again
    live_model.py       `LiveModel`: the Predictor a process serves now, swapped on promotion
    registry.py         the registry folder of model versions, shared by every process
    metrics.py          the Prometheus metrics of the reader, the outbox and the model

Serving never imports torch, `training` or `lifecycle`.
"""
