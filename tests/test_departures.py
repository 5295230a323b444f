"""Every departure from the paper is declared once, off in the paper's configs, and the
demo's recipe is a list of them."""

import os

import pytest

from configs import bair, base, demo, folder, kth, ucf101
from inbetweening.config import departures
from inbetweening.config.fields import get_field

PAPER_CONFIGS = (base, bair, kth, ucf101, folder)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("module", PAPER_CONFIGS, ids=lambda m: m.__name__)
def test_the_paper_configs_have_no_departure(module):
    assert departures.active(module.get_config()) == []


def test_every_departure_changes_the_paper_config_and_declares_what_it_adds():
    paper = base.get_config()
    for departure in departures.DEPARTURES:
        assert departure.kind in ("reading", "addition"), departure.name
        assert any(get_field(paper, f) != v for f, v in departure.on.items()), departure.name
        # A field only the departure has is declared with the paper's behaviour.
        for field, value in departure.off.items():
            assert get_field(paper, field) == value and field in departure.on, departure.name
        assert departure.effect and departure.numbers, departure.name


def test_the_demo_is_the_paper_with_its_recipe():
    assert departures.active(demo.get_config()) == list(demo.RECIPE)


def test_an_unknown_departure_is_named():
    with pytest.raises(departures.UnknownDepartureError, match="'voxel_flow'"):
        departures.switch_on(base.get_config(), "voxel_flow")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def test_every_departure_points_at_a_section_that_exists():
    for departure in departures.DEPARTURES:
        path, anchor = departure.numbers.split("#")
        with open(os.path.join(REPO, path)) as handle:
            anchors = {_anchor(line) for line in handle if line.startswith("#")}
        assert anchor in anchors, (departure.name, departure.numbers)
