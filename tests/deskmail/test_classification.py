"""The classify stage and the classifier's use cases against a real database and the real
model: labels come from the help desk's tree, the ticket gets a priority from the matrix and
the signals, an unsure classifier sends the ticket to triage, an agent's correction is a
training example naming who made it, training is deterministic, a worse retrain is not
promoted and a rollback brings the previous model back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from classifier import CsvMapping, holdout_split
from deskmail.app import App
from deskmail.categories import category_tree, update_category
from deskmail.classification import ClassificationError, correct_classification
from deskmail.classifier_models import list_versions, rollback, train_classifier
from deskmail.inject import inject_bytes
from deskmail.ticket_actions import Actor
from deskmail.training_data import import_csv, load_examples
from models import (
    Classification,
    ClassifierModel,
    Event,
    LabelSource,
    ModelStatus,
    Outcome,
    Person,
    Ticket,
    TrainingExample,
)
from tests.deskmail import classifier_support as support
from tests.deskmail.kb_support import mail

pytestmark = pytest.mark.model

MAPPING = CsvMapping(
    text_columns=("Subject", "Body"),
    category_column="Category",
    subcategory_column="Subcategory",
    urgency_column="Priority",
)


@pytest.fixture
def classifier_app(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    application = support.open_app(tmp_path / "data", sqlite_url)
    yield application
    application.close()


def _ticket(app: App, number: int) -> Ticket:
    with app.read_sessions() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def _classification(app: App, number: int) -> Classification:
    with app.read_sessions() as session:
        row = session.scalars(
            select(Classification)
            .where(Classification.ticket_id == number)
            .order_by(Classification.id.desc())
        ).first()
        assert row is not None
        session.expunge(row)
        return row


def _send(app: App, subject: str, body: str, sender: str = "kim.lee@example.com") -> int:
    result = inject_bytes(app, support.worker(app), mail(subject, body, sender=sender))
    assert result.outcome is Outcome.TICKET_CREATED
    assert result.ticket is not None
    return result.ticket


def _import(app: App, tmp_path: Path, rows: list[dict[str, str]] | None = None) -> int:
    path = support.write_csv(tmp_path / "history.csv", rows or support.synthetic_rows())
    return import_csv(app, path, MAPPING, actor="test").imported


def test_labels_come_from_the_tree_and_the_priority_from_the_matrix(classifier_app: App) -> None:
    app = classifier_app
    number = _send(
        app,
        "VPN will not connect",
        "Hi, the VPN client says my certificate has expired and will not connect from home.",
    )
    ticket = _ticket(app, number)
    with app.read_sessions() as session:
        tree = category_tree(session)
    assert ticket.category == "network"
    assert ticket.subcategory is not None
    assert tree.is_subcategory_of(ticket.subcategory, ticket.category)
    assert not ticket.needs_triage
    # No signal in the words: the default levels, and the matrix's cell for them.
    assert (ticket.impact, ticket.urgency) == ("individual", "medium")
    assert ticket.priority == app.settings.classifier.priority_matrix["individual"]["medium"]
    row = _classification(app, number)
    assert row.source == LabelSource.ZERO_SHOT
    assert row.model_version.startswith("zeroshot-")
    assert 0.0 < row.confidences["category"] <= 1.0
    assert set(row.confidences) >= {"category", "impact", "urgency"}


def test_an_admin_edit_of_the_tree_reaches_the_classifier(classifier_app: App) -> None:
    app = classifier_app
    body = "My VPN tunnel drops every few minutes when I work from home."
    assert _ticket(app, _send(app, "VPN drops", body)).category == "network"
    with app.sessions() as session, session.begin():
        update_category(session, "network", actor="admin@example.org", active=False)
    ticket = _ticket(app, _send(app, "VPN drops again", body))
    assert ticket.category != "network"
    assert ticket.subcategory is None or not ticket.subcategory.startswith("network/")


def test_an_unclear_mail_goes_to_triage_with_the_guess_kept_aside(classifier_app: App) -> None:
    app = classifier_app
    number = _send(app, "Friday", "Are we still on for lunch on Friday? The usual place at one.")
    ticket = _ticket(app, number)
    assert ticket.needs_triage
    assert ticket.category is None
    assert ticket.subcategory is None
    # The priority is still set: triage sorts by it.
    assert ticket.priority in {"P1", "P2", "P3", "P4"}
    row = _classification(app, number)
    assert row.abstained
    assert row.details["abstained"]["category"] is True
    assert "category" in row.details["guess"]


def test_words_vip_and_major_incidents_raise_the_priority(classifier_app: App) -> None:
    app = classifier_app
    loud = _send(
        app,
        "URGENT production down",
        "Production is down for the whole office, nobody can work. Please fix asap.",
    )
    ticket = _ticket(app, loud)
    assert ticket.priority in {"P1", "P2"}
    kinds = {signal["kind"] for signal in _classification(app, loud).details["signals"]}
    assert kinds

    quiet_body = "The printer on the second floor prints blank pages, not urgent."
    plain = _ticket(app, _send(app, "printer blank pages", quiet_body))
    with app.sessions() as session, session.begin():
        session.add(Person(email="ceo@example.com", name="Chief", role="CEO"))
    vip = _ticket(app, _send(app, "printer blank pages", quiet_body, sender="ceo@example.com"))
    urgencies = ["low", "medium", "high", "critical"]
    assert urgencies.index(vip.urgency or "") > urgencies.index(plain.urgency or "")
    assert _classification(app, vip.id).details["requester"]["role"] == "CEO"

    # An open major incident of the same category: a new report joins it as a child.
    major = _send(app, "VPN down", "The VPN is down, I cannot connect from home.")
    with app.sessions() as session, session.begin():
        session.execute(
            update(Ticket)
            .where(Ticket.id == major)
            .values(major_incident=True, category="network", impact="organisation")
        )
    child = _ticket(app, _send(app, "VPN broken", "The VPN is not connecting here either."))
    assert child.category == "network"
    assert child.parent_id == major
    assert urgencies.index(child.urgency or "") >= urgencies.index("high")
    assert _classification(app, child.id).details["major_incident"] == major


def test_a_correction_becomes_a_training_example_naming_who_made_it(
    classifier_app: App,
) -> None:
    app = classifier_app
    number = _send(app, "Friday", "Are we still on for lunch on Friday?")
    with app.sessions() as session, session.begin():
        session.add(Person(email="agent@example.org", name="Agent"))
    with app.sessions() as session, session.begin():
        agent_id = session.scalars(
            select(Person.id).where(Person.email == "agent@example.org")
        ).one()
        row = correct_classification(
            session,
            number,
            actor=Actor("agent@example.org"),
            settings=app.settings.classifier,
            category="General",  # a name works as well as a key
            urgency="low",
        )
        assert row.source == LabelSource.AGENT
        assert row.corrected_by_id == agent_id
    ticket = _ticket(app, number)
    assert (ticket.category, ticket.urgency, ticket.needs_triage) == ("general", "low", False)
    assert ticket.priority == app.settings.classifier.priority_matrix["individual"]["low"]
    with app.read_sessions() as session:
        example = session.scalars(select(TrainingExample)).one()
        events = session.scalars(
            select(Event.kind).where(Event.ticket_id == number, Event.kind == "reclassified")
        ).all()
        examples = load_examples(session)
    assert example.source == LabelSource.AGENT
    assert example.created_by == "agent@example.org"
    assert example.created_by_id == agent_id
    assert example.ticket_id == number
    assert "lunch on Friday" in example.text
    # Only what the agent set is learnt, never the model's own guesses.
    assert (example.category, example.subcategory, example.impact, example.urgency) == (
        "general",
        None,
        None,
        "low",
    )
    assert events == ["reclassified"]
    assert [(e.category, str(e.urgency)) for e in examples] == [("general", "low")]


def test_a_correction_outside_the_tree_is_refused(classifier_app: App) -> None:
    app = classifier_app
    number = _send(app, "printer", "The printer shows paper jam in tray two.")
    with app.sessions() as session, session.begin():
        with pytest.raises(ClassificationError):
            correct_classification(
                session,
                number,
                actor=Actor("agent@example.org"),
                settings=app.settings.classifier,
                category="gardening",
            )
        with pytest.raises(ClassificationError):
            correct_classification(
                session,
                number,
                actor=Actor("agent@example.org"),
                settings=app.settings.classifier,
                category="network",
                subcategory="hardware/printer",
            )


def test_training_is_deterministic_and_learns_the_tree(classifier_app: App, tmp_path: Path) -> None:
    app = classifier_app
    assert _import(app, tmp_path) == 160
    service = support.service(app)
    first = train_classifier(service, actor="test", promote=False)
    second = train_classifier(service, actor="test", promote=False)
    assert first.version == second.version
    assert second.already_stored
    assert first.candidate_report.targets
    category = first.candidate_report.targets[next(iter(first.candidate_report.targets))]
    assert category.n == first.n_heldout
    with app.read_sessions() as session:
        stored = session.scalars(select(ClassifierModel)).one()
        tree = category_tree(session)
    assert stored.status == ModelStatus.CANDIDATE
    assert set(stored.label_sets["category"]) <= set(tree.keys())
    assert set(stored.label_sets["subcategory"]) <= set(tree.keys())


def test_a_model_is_promoted_and_used_a_worse_one_is_not_and_rollback_restores(
    classifier_app: App, tmp_path: Path
) -> None:
    app = classifier_app
    _import(app, tmp_path)
    service = support.service(app)
    good = train_classifier(service, actor="test")
    assert good.promoted, good.reasons
    accuracy = good.candidate_report.targets
    assert min(m.accuracy for m in accuracy.values()) > 0.8

    # The classify stage uses the promoted model from the next ticket on.
    number = _send(app, "Printer", "Toner is empty on the second floor printer again.")
    ticket = _ticket(app, number)
    assert (ticket.category, ticket.subcategory) == ("hardware", "hardware/printer")
    assert _classification(app, number).model_version == good.version
    assert _classification(app, number).source == LabelSource.MODEL

    # Scramble the labels of the training side only: the held-out side still tells the truth.
    with app.read_sessions() as session:
        training, _heldout = holdout_split(load_examples(session), 0.2)
    keys = sorted(support.PHRASES)
    with app.sessions() as session, session.begin():
        for n, example in enumerate(training):
            wrong = keys[(keys.index(example.subcategory or keys[0]) + 1 + n % 3) % len(keys)]
            session.execute(
                update(TrainingExample)
                .where(TrainingExample.text == example.text)
                .values(category=wrong.split("/", 1)[0], subcategory=wrong)
            )
    worse = train_classifier(service, actor="test")
    assert not worse.promoted
    assert worse.reasons
    assert worse.compared_with == good.version
    with app.read_sessions() as session:
        versions = {v.version: v.status for v in list_versions(session)}
    assert versions == {good.version: "active", worse.version: "candidate"}

    # Promote the worse one by hand (rollback --to), then roll back: the good one returns.
    with app.sessions() as session, session.begin():
        assert rollback(session, actor="test", to_version=worse.version).current == worse.version
    with app.sessions() as session, session.begin():
        back = rollback(session, actor="test")
    assert (back.previous, back.current) == (worse.version, good.version)
    again = _send(app, "Printer", "Toner is empty on the second floor printer again.")
    assert _classification(app, again).model_version == good.version
    # Rolling back the first model leaves zero-shot.
    with app.sessions() as session, session.begin():
        assert rollback(session, actor="test").current is None
    last = _send(app, "Printer", "Toner is empty on the second floor printer again.")
    assert _classification(app, last).model_version.startswith("zeroshot-")
