"""Names of the segmentation options, importable without scikit-learn (the CLI's parser needs them
before any command runs)."""

SCALINGS = ("log-standard", "standard", "robust")
ALGORITHMS = ("kmeans", "minibatch-kmeans", "gmm", "agglomerative", "dbscan", "hdbscan")
K_ALGORITHMS = ("kmeans", "minibatch-kmeans", "gmm", "agglomerative")
