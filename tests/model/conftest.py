"""A model trained once per test session on the seed corpus (a few seconds)."""

from __future__ import annotations

import pytest

from careassist.assistant import Assistant
from careassist.corpus import load_seed_corpus
from careassist.model import AssistantModel
from careassist.training import TrainingResult, train_assistant


@pytest.fixture(scope="session")
def trained() -> TrainingResult:
    return train_assistant(load_seed_corpus())


@pytest.fixture(scope="session")
def model(trained: TrainingResult) -> AssistantModel:
    return trained.model


@pytest.fixture(scope="session")
def assistant(model: AssistantModel) -> Assistant:
    return Assistant(model)
