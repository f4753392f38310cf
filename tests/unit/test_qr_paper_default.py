"""Paper passes use the same ECC level as screens (M): at the same printed size a level Q code
has 13 % smaller modules and was read in fewer degraded photos (bench/bench_field.py)."""

from __future__ import annotations

import re

from cirqliz.issuance.qr import PAPER_ECC, QUIET_ZONE, SCREEN_ECC, qr_matrix, qr_svg, qr_version

# A pass as long as the length target allows (260 characters, QR alphanumeric alphabet).
TEXT = "CQ1:" + "6BFOXN*TS0BI$ZD.P9K6H4WX1V" * 9 + "ABCDEFGHIJKLMNOPQRSTUV"


def test_paper_default_is_level_m_with_a_quiet_zone_of_four_modules() -> None:
    assert len(TEXT) == 260
    assert PAPER_ECC == SCREEN_ECC == "M"
    assert qr_version(TEXT, "M") == 9 and qr_version(TEXT, "Q") > 9  # Q: more, smaller modules
    side = 17 + 4 * 9 + 2 * QUIET_ZONE
    svg = qr_svg(TEXT)  # what the print pages embed
    assert re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups() == (str(side), str(side))
    assert svg == qr_svg(TEXT, ecc="M")
    matrix = qr_matrix(TEXT, PAPER_ECC)
    assert len(matrix) == side
    # the quiet zone: 4 light modules on every side
    assert not any(matrix[y][x] for y in range(side) for x in range(side)
                   if min(x, y, side - 1 - x, side - 1 - y) < QUIET_ZONE)
