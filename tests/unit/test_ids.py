import uuid

from hypothesis import given, strategies as st

from ciohooks.ids import NAMESPACE, message_id, message_id_of_content


@given(st.text(), st.text(), st.lists(st.text(), max_size=3))
def test_fast_message_id_is_exactly_uuid5(source, event_id, qualifiers):
    assert message_id(source, event_id, *qualifiers) == str(uuid.uuid5(NAMESPACE, "\x1f".join((source, event_id, *qualifiers))))


def test_ids_are_stable_across_releases():
    # Changing these would change every messageId downstream and defeat de-duplication.
    assert message_id("email/sendgrid", "ev1") == "0f21b97e-532c-5e37-b40d-97ef34e91ed9"
    assert message_id("email/sendgrid", "ev1", "a@b.c") == "a583ff96-fd1a-5004-a87a-96ae9cc7149b"


def test_content_ids_do_not_depend_on_key_order():
    assert message_id_of_content("x", {"b": 1, "a": 2}) == "0f784133-4abd-5e18-997d-82db9e0adcb3"
    assert message_id_of_content("x", {"a": 2, "b": 1}) == "0f784133-4abd-5e18-997d-82db9e0adcb3"
