using Microsoft.AspNetCore.Components;
using MudBlazor;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Operations;

/// <summary>How operations and their states look: icon, colour and words, in one place for grid, detail and toasts.</summary>
public static class OperationVisuals
{
    public static string Icon(string type) => type switch
    {
        "inventory_sync" => Icons.Material.Outlined.Devices,
        "policy_sync" => Icons.Material.Outlined.Policy,
        "backup" => Icons.Material.Outlined.Backup,
        "restore" => Icons.Material.Outlined.Restore,
        "directory_sync" => Icons.Material.Outlined.Groups,
        _ => Icons.Material.Outlined.Settings,
    };

    public static (string Text, Color Color, string Icon) State(RunStatus status, RunOutcome outcome) => status switch
    {
        RunStatus.Queued => ("Queued", Color.Default, Icons.Material.Outlined.Schedule),
        RunStatus.Running => ("Running", Color.Info, Icons.Material.Outlined.Autorenew),
        _ => outcome switch
        {
            RunOutcome.Succeeded => ("Succeeded", Color.Success, Icons.Material.Outlined.CheckCircle),
            RunOutcome.PartiallySucceeded => ("Partially succeeded", Color.Warning, Icons.Material.Outlined.Rule),
            RunOutcome.Failed => ("Failed", Color.Error, Icons.Material.Outlined.Error),
            RunOutcome.Cancelled => ("Cancelled", Color.Default, Icons.Material.Outlined.Block),
            _ => ("Completed", Color.Default, Icons.Material.Outlined.Done),
        },
    };

    /// <summary>
    /// A small MudBlazor icon as plain SVG markup (what MudIcon renders), for places repeated on every row of a live
    /// page, where a component per icon would cost every open circuit its render state. Icons are MudBlazor's constants.
    /// </summary>
    public static RenderFragment Svg(string icon, string? extraClass = null, Size size = Size.Small) => builder =>
    {
        builder.OpenElement(0, "svg");
        builder.AddAttribute(1, "class", SvgClasses(extraClass, size));
        builder.AddAttribute(2, "focusable", "false");
        builder.AddAttribute(3, "viewBox", "0 0 24 24");
        builder.AddAttribute(4, "aria-hidden", "true");
        builder.AddMarkupContent(5, icon);
        builder.CloseElement();
    };

    /// <summary>The same icon as a markup string, for cells built as markup (<see cref="RunGridCells"/>).</summary>
    public static string SvgMarkup(string icon, string? extraClass = null, Size size = Size.Small) =>
        $"<svg class=\"{SvgClasses(extraClass, size)}\" focusable=\"false\" viewBox=\"0 0 24 24\" aria-hidden=\"true\">{icon}</svg>";

    private static string SvgClasses(string? extraClass, Size size)
    {
        var classes = size == Size.Small ? "mud-icon-root mud-svg-icon mud-icon-size-small" : "mud-icon-root mud-svg-icon mud-icon-size-medium";
        return extraClass is null ? classes : classes + " " + extraClass;
    }

    /// <summary>The CSS name MudBlazor uses for a palette colour (<c>mud-chip-color-success</c>, …).</summary>
    public static string CssName(Color color) => color switch
    {
        Color.Primary => "primary",
        Color.Secondary => "secondary",
        Color.Tertiary => "tertiary",
        Color.Info => "info",
        Color.Success => "success",
        Color.Warning => "warning",
        Color.Error => "error",
        Color.Dark => "dark",
        Color.Surface => "surface",
        _ => "default",
    };

    public static string Relative(DateTime at, DateTime now)
    {
        var age = now - at;
        return age.TotalSeconds switch
        {
            < 0 => "just now",
            < 45 => "just now",
            < 90 => "1 min ago",
            < 3600 => $"{(int)Math.Round(age.TotalMinutes)} min ago",
            < 5400 => "1 hour ago",
            < 86400 => $"{(int)Math.Round(age.TotalHours)} hours ago",
            < 172800 => "yesterday",
            _ => $"{(int)Math.Round(age.TotalDays)} days ago",
        };
    }

    /// <summary>
    /// How long a run still going has taken, at the grain of a minute ("under 1 min", "4 min", "2 h 5 min"): what a
    /// grid of many running runs shows. A finer clock would change every running row on every live delivery (one a
    /// second on a busy tenant), on every open page; at this grain a delivery for one run leaves the other rows as
    /// they were. The run's own page keeps the exact clock (<see cref="Duration"/>).
    /// </summary>
    public static string RunningDuration(TimeSpan? span)
    {
        if (span is not { } d || d < TimeSpan.Zero)
        {
            return "—";
        }

        return d.TotalMinutes switch
        {
            < 1 => "under 1 min",
            < 60 => $"{(int)d.TotalMinutes} min",
            _ => $"{(int)d.TotalHours} h {d.Minutes} min",
        };
    }

    public static string Duration(TimeSpan? span)
    {
        if (span is not { } d || d < TimeSpan.Zero)
        {
            return "—";
        }

        return d.TotalSeconds switch
        {
            < 1 => $"{Math.Max(0, (int)d.TotalMilliseconds)} ms",
            < 60 => $"{d.TotalSeconds:0.#} s",
            < 3600 => $"{(int)d.TotalMinutes} min {d.Seconds} s",
            _ => $"{(int)d.TotalHours} h {d.Minutes} min",
        };
    }
}
