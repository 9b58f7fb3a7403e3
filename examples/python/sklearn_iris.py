"""XGBoost as a scikit-learn estimator, trained and served by an mlbridge server: a Pipeline
in a GridSearchCV on Fisher's iris (shipped with scikit-learn), string labels in and out.

    pip install './clients/python[sklearn]'
    MLBRIDGE_ADDRESS=localhost:50051 python examples/python/sklearn_iris.py
"""

from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlbridge.sklearn import XGBClassifier, delete_models

iris = load_iris()
X, y = iris.data, iris.target_names[iris.target]  # labels: 'setosa', 'versicolor', 'virginica'

# Each fit (3 folds x 2 depths, then the refit) stores a model named example-iris-xgbclassifier-<hex>.
model = make_pipeline(StandardScaler(), XGBClassifier(n_estimators=20, model_prefix="example-iris"))
search = GridSearchCV(model, {"xgbclassifier__max_depth": [1, 3]}, cv=3).fit(X, y)
print(f"best parameters: {search.best_params_}")
print(f"cross-validated accuracy: {search.best_score_:.3f}")
print(f"predicted: {search.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]).tolist()}")
print(f"deleted {len(delete_models('example-iris'))} models from the server")
