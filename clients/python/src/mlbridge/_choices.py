"""The string choices of the client's arguments, as ``Literal`` types: a type checker (mypy,
pyright, an IDE) rejects a misspelt choice such as ``output="probabilites"`` before it runs.
At run time the same names are checked again (a ``ValueError`` naming the argument)."""

from __future__ import annotations

from typing import Literal

__all__ = ["PredictOutput", "CrfAlgorithm", "CrfFeaturePreset", "XgboostPreset", "ModelKind", "ModelFormat"]

#: What :meth:`mlbridge.XgboostClient.predict` returns in ``values``: the objective's natural
#: output, class probabilities or untransformed margins.
PredictOutput = Literal["default", "probabilities", "margins"]
#: A CRFsuite training algorithm (long names are aliases of ``ap`` and ``pa``).
CrfAlgorithm = Literal["lbfgs", "l2sgd", "ap", "averaged-perceptron", "pa", "passive-aggressive", "arow"]
#: A CRF feature preset of the server, for CSV data: the book's model or the richer default.
CrfFeaturePreset = Literal["book", "rich"]
#: An XGBoost training preset of the server: the book's iris classifier.
XgboostPreset = Literal["iris"]
#: A model kind of the server's store.
ModelKind = Literal["crf", "xgboost"]
#: A model file format (``json``/``ubj`` are XGBoost's, ``crfsuite`` CRFsuite's).
ModelFormat = Literal["crfsuite", "json", "xgboost-json", "ubj", "xgboost-ubj"]
