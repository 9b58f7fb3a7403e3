"""The book's iris classifier (chapter 8, Listings 13–18), served by mlbridge.

The book's Java class ``IrisClassificationXgboost`` has two static methods,
``fit()`` (train on ``data/iris.csv``, print each round's evaluation, save
``xgb.model``) and ``predict()`` (classify ``data/predict.csv`` and return the
first row's class). The same here, with the model trained and stored by an
mlbridge server (``MLBRIDGE_ADDRESS``, default ``localhost:50051``)::

    from iris_classification_xgboost import IrisClassificationXgboost
    IrisClassificationXgboost.fit()
    print(IrisClassificationXgboost.predict())     # setosa

``python -m iris_classification_xgboost`` runs both, like the book's ``main``.
"""

from iris_classification_xgboost._iris import IrisClassificationXgboost

__all__ = ["IrisClassificationXgboost"]
