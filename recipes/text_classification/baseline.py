"""The scikit-learn baseline the recipe reports beside its own result.

TF-IDF of word unigrams and bigrams (sublinear term frequency) and a
logistic regression whose inverse regularization `C` is chosen on the dev
split - the usual strong bag-of-n-grams baseline for text classification.
"""

import time

from recipes.runner.reports import classification_metrics

C_GRID = (0.1, 1.0, 10.0, 100.0)


def tfidf_logistic_regression(splits, class_names, c_grid=C_GRID):
    """Fits the baseline on train, picks `C` on dev, scores dev and test.

    Args:
        splits: Dict `{"train", "dev", "test"}` of `LabelledTexts`.
        class_names: The class names, in index order.
        c_grid: Values of `C` tried.

    Returns:
        A JSON-ready dict: `name`, `C`, `dev_accuracy_by_C`, `dev` and
        `test` (`classification_metrics`), `seconds`.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.monotonic()
    index = {name: position for position, name in enumerate(class_names)}
    targets = {name: [index[label] for label in split.labels] for name, split in splits.items()}
    features = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    train = features.fit_transform(splits["train"].texts)
    dev = features.transform(splits["dev"].texts)
    test = features.transform(splits["test"].texts)
    if len(set(targets["train"])) < 2:
        raise ValueError(
            "The TF-IDF baseline needs at least two classes in the training split. "
            f"Received: {sorted(set(splits['train'].labels))}"
        )
    best = None
    by_c = {}
    for c in c_grid:
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(train, targets["train"])
        accuracy = float((model.predict(dev) == targets["dev"]).mean())
        by_c[str(c)] = accuracy
        if best is None or accuracy > best[0]:
            best = (accuracy, c, model)
    _, c, model = best
    return {
        "name": "tfidf_1-2gram_logistic_regression",
        "C": c,
        "dev_accuracy_by_C": by_c,
        "dev": classification_metrics(targets["dev"], model.predict(dev), class_names),
        "test": classification_metrics(targets["test"], model.predict(test), class_names),
        "seconds": round(time.monotonic() - start, 1),
    }
