"""The book's Python API (chapter 8, Listings 2–12), served by mlbridge.

The book builds ``crfsuite_model.CRFSuiteModel`` as a PyO3 extension that
trains CRFsuite in-process and keeps the model in a local file. Here the same
class talks to an mlbridge server, which trains, stores and serves the model
under ``model_name``, so the book's scripts run unchanged::

    from crfsuite_model import CRFSuiteModel
    model = CRFSuiteModel("model.crfsuite")
    res = model.fit("data/ner.csv")        # prints the accuracy line, returns "model fit done"
    print(model.predict("data/ner_predict.csv"))

``fit`` trains with the server's default ``"rich"`` features (word, lemma, POS
and shape of the token and its neighbours; L-BFGS), which tag markedly better
than the book's; ``model.fit(path, feature_preset="book")`` is the book's exact
model (lemma 1.0, next-lemma 0.5; AROW).

The server address comes from ``MLBRIDGE_ADDRESS`` (default ``localhost:50051``).
"""

from crfsuite_model._model import CRFSuiteModel

__all__ = ["CRFSuiteModel"]
