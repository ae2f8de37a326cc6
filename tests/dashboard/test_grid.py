"""The grid factory and its column formats (the formats run in the browser: see tests/browser)."""

from dashboard.components.grid import LINK_RENDERER, create_grid
from dashboard.components.tables import money, num, p_value, percent, text


def test_grid_defaults_and_options():
    grid = create_grid(
        "x-table", [{"a": 1}], [text("A", "a")], page_size=10, filters=True, export_name="x.csv"
    )
    assert grid.id == "x-table" and grid.rowData == [{"a": 1}]
    assert grid.dashGridOptions["pagination"] is True
    assert grid.dashGridOptions["paginationPageSize"] == 10
    assert grid.defaultColDef["floatingFilter"] is True and grid.defaultColDef["sortable"] is True
    assert grid.csvExportParams == {"fileName": "x.csv"}
    plain = create_grid("y-table")
    assert "pagination" not in plain.dashGridOptions and plain.csvExportParams is None


def test_number_columns_keep_numbers_and_format_for_display():
    column = num("Revenue", "revenue", money("£"))
    assert column["field"] == "revenue" and column["filter"] == "agNumberColumnFilter"
    assert '"£"' in column["valueFormatter"]["function"]
    assert "params.value == null ? ''" in percent(1)["function"]
    assert "'< 1e-300'" in p_value()["function"]
    # dash-ag-grid's expression parser has no Number.isNaN: a formatter using it blanks the column
    assert all("Number." not in f["function"] for f in (money("£"), percent(0), p_value()))


def test_link_renderer_is_registered_in_assets():
    from pathlib import Path

    js = (Path(__file__).parents[2] / "assets" / "dashAgGridComponentFunctions.js").read_text()
    assert f"dagcomponentfuncs.{LINK_RENDERER} = function" in js
