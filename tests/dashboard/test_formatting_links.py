import pytest

from dashboard.formatting import customer_link, escape_markdown


@pytest.mark.parametrize(
    ("customer_id", "link"),
    [
        ("12347", "[12347](/customer?id=12347)"),
        (
            "c148](https://evil.example/phish)",
            r"[c148\]\(https\://evil\.example/phish\)](/customer?id="
            "c148%5D%28https%3A%2F%2Fevil.example%2Fphish%29)",
        ),
        ("<script>", r"[\<script\>](/customer?id=%3Cscript%3E)"),
        ("a b&c=d", r"[a b\&c=d](/customer?id=a%20b%26c%3Dd)"),
    ],
)
def test_customer_link_escapes_label_and_url(customer_id, link):
    assert customer_link(customer_id) == link


def test_escape_markdown_leaves_plain_ids_alone():
    assert escape_markdown("C100045") == "C100045"
