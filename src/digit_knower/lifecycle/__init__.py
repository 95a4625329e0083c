"""The learning loop, offline: learn from the users' labelled drawings, compare, promote.

    feedback.py        the labelled predictions as training data: a stable 80/20 split, a checksum
    scoring.py         a model on the MNIST test set, the feedback holdout and the mouse-style set
    gate.py            whether a candidate may replace its parent, and why not
    retrain.py         `digit-knower retrain`: fine-tune, score, gate, register, maybe promote
    catalog.py         every version with its figures, live accuracy and whether it serves
    models_command.py  `digit-knower models list | promote | rollback`

Which version serves lives in the database (`store/deployments.py`); every serving process reads
it through `serving/live_model.py`. Serving imports nothing from here.
"""
