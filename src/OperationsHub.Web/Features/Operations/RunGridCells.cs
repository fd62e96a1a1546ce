using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Components;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Operations;

/// <summary>
/// The runs grid's read-only cells as markup, one render frame per cell instead of eight to twenty: every open runs
/// page holds its grid's frames twice (the current and the previous render), and at some 80 frames a row a page of
/// 25 rows outgrew 2,048 frames, so each buffer doubled to 4,096 (160 KB apiece, per circuit). Cells that depend on
/// nothing but the operation type or the status are built once per process and shared by every circuit; a row's own
/// cells are kept per run while its values stay the same, so both renders point at one string and an unchanged row
/// diffs as equal. A change replaces the cell (two DOM mutation records) instead of patching attributes and icon
/// paths one by one. Every value from the database is HTML-encoded here; the rest are constants.
/// The select box and the running duration stay ordinary frames: the box keeps its focus and handler across renders,
/// and the duration ticks as a single text change.
/// </summary>
internal sealed class RunGridCells
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;
    private static readonly ConcurrentDictionary<(RunStatus, RunOutcome), MarkupString> Chips = new();
    private static readonly ConcurrentDictionary<(RunStatus, RunOutcome), MarkupString> StatusCells = new();
    private static readonly ConcurrentDictionary<(string Type, string Name), MarkupString> OperationCells = new();

    private Dictionary<long, RowCells> _rows = [];
    private Dictionary<long, RowCells> _rendering = [];

    /// <summary>A row's cells, kept while their inputs are unchanged.</summary>
    internal sealed record RowCells(RowKey Key, MarkupString Run, MarkupString Operation, MarkupString Status,
        MarkupString People, MarkupString Created, MarkupString Progress);

    /// <summary>Everything a row's markup is made of; equal keys, equal markup.</summary>
    internal readonly record struct RowKey(long Id, string Link, string Type, string Name, RunStatus Status, RunOutcome Outcome,
        string? Stale, string? Target, string? Initiator, string Created, string CreatedTitle, int Processed, int Total);

    /// <summary>Call once before a render's rows: rows not asked for during that render are then let go.</summary>
    public void BeginRender()
    {
        (_rows, _rendering) = (_rendering, _rows);
        _rendering.Clear();
    }

    public RowCells For(in RowKey key)
    {
        if (!(_rendering.TryGetValue(key.Id, out var cells) || _rows.TryGetValue(key.Id, out cells)) || cells.Key != key)
        {
            cells = Build(key);
        }

        _rendering[key.Id] = cells;
        return cells;
    }

    private static RowCells Build(in RowKey key)
    {
        var run = Cell("Run", $"<a href=\"{Encoder.Encode(key.Link)}\" data-run=\"{key.Id.ToString(CultureInfo.InvariantCulture)}\" "
            + $"class=\"mud-typography mud-link mud-primary-text mud-link-underline-hover\">#{key.Id.ToString(CultureInfo.InvariantCulture)}</a>");
        var operation = OperationCells.GetOrAdd((key.Type, key.Name), static k => new MarkupString(Cell("Operation",
            $"<span class=\"d-inline-flex align-center gap-2\">{OperationVisuals.SvgMarkup(OperationVisuals.Icon(k.Type))}{Encoder.Encode(k.Name)}</span>")));
        var status = key.Stale is { } stale
            ? new MarkupString(Cell("Status", Chip(key.Status, key.Outcome).Value
                + $"<div class=\"mud-typography mud-typography-caption hub-stale\" data-testid=\"row-stale\">No heartbeat for {Encoder.Encode(stale)} — may be stuck</div>"))
            : StatusCells.GetOrAdd((key.Status, key.Outcome), static k => new MarkupString(Cell("Status", Chip(k.Item1, k.Item2).Value)));
        var people = Cell("Target", Encoder.Encode(key.Target ?? "—")) + Cell("Started by", Encoder.Encode(key.Initiator ?? "System"));
        var created = Cell("Created", $"<span title=\"{Encoder.Encode(key.CreatedTitle)}\">{Encoder.Encode(key.Created)}</span>");
        return new RowCells(key, new MarkupString(run), operation, status, new MarkupString(people), new MarkupString(created),
            new MarkupString(Cell("Progress", ProgressMarkup(key))));
    }

    private static string ProgressMarkup(in RowKey key)
    {
        var counts = $"<span class=\"mud-typography mud-typography-caption\">{key.Processed.ToString(CultureInfo.CurrentCulture)} of {key.Total.ToString(CultureInfo.CurrentCulture)}</span>";
        if (key.Status == RunStatus.Completed)
        {
            return counts;
        }

        if (key.Status != RunStatus.Running)
        {
            return "";
        }

        var percent = key.Total <= 0 ? 0 : Math.Clamp(100.0 * key.Processed / key.Total, 0, 100);
        return new StringBuilder()
            .Append("<div class=\"hub-progress\" data-testid=\"run-progress\"><div role=\"progressbar\" aria-valuenow=\"")
            .Append(percent.ToString("0", CultureInfo.InvariantCulture))
            .Append("\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-label=\"Run ").Append(key.Id.ToString(CultureInfo.InvariantCulture))
            .Append(" progress\" class=\"mud-progress-linear mud-progress-linear-rounded mud-progress-linear-small mud-progress-linear-color-info mud-progress-linear-background horizontal\">")
            .Append("<div class=\"mud-progress-linear-bars mud-flip-x-rtl\"><div class=\"mud-progress-linear-bar\" style=\"transform: translateX(-")
            .Append((100 - percent).ToString("0.##", CultureInfo.InvariantCulture))
            .Append("%);\"></div></div></div>").Append(counts).Append("</div>")
            .ToString();
    }

    /// <summary>
    /// The status chip as markup with MudBlazor's chip classes (not a MudChip: not interactive, and one per row of every
    /// open page), one shared string per status and outcome.
    /// </summary>
    public static MarkupString Chip(RunStatus status, RunOutcome outcome) => Chips.GetOrAdd((status, outcome), static k =>
    {
        var (text, color, icon) = OperationVisuals.State(k.Item1, k.Item2);
        return new MarkupString(
            $"<div class=\"mud-chip-container\"><div class=\"mud-chip mud-chip-outlined mud-chip-size-small mud-chip-color-{OperationVisuals.CssName(color)} ma-0\" "
            + $"data-status=\"{k.Item1}\" data-outcome=\"{k.Item2}\">{OperationVisuals.SvgMarkup(icon, "mud-chip-icon")}<span class=\"mud-chip-content\">{Encoder.Encode(text)}</span></div></div>");
    });

    private static string Cell(string label, string content) =>
        $"<td data-label=\"{label}\" class=\"mud-table-cell\">{content}</td>";
}
