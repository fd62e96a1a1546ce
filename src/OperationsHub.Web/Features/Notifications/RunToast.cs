using System.Net;
using Microsoft.AspNetCore.Components;

namespace OperationsHub.Web.Features.Notifications;

/// <summary>
/// The one shape of a toast about a run, wherever it is raised (a start surface, the bell's live feed): what happened,
/// the run's number, what it works on and where, and "View run #41" as a real link. Every text is encoded.
/// </summary>
internal static class RunToast
{
    /// <summary>
    /// What a start surface says once the hub answered: "Inventory sync queued #41" (neutral, not a green check:
    /// queued is not success), or "Already running — Inventory sync #37" when the start was deduped to that run.
    /// </summary>
    public static void Started(MudBlazor.ISnackbar snackbar, string displayName, Core.Runs.StartRunResult started, string runLink, string? target)
    {
        var what = started.Deduped ? $"Already running — {displayName}" : $"{displayName} queued";
        snackbar.Add(Markup(what, started.Run.Id, runLink, target), started.Deduped ? MudBlazor.Severity.Info : MudBlazor.Severity.Normal);
    }

    public static MarkupString Markup(string headline, long runId, string runLink, params string?[] details)
    {
        var tail = string.Concat(details.Where(d => !string.IsNullOrEmpty(d)).Select(d => " · " + WebUtility.HtmlEncode(d)));
        return new MarkupString(
            $"<span class=\"hub-toast-text\">{WebUtility.HtmlEncode(headline)} <strong>#{runId}</strong>{tail}</span> "
            + $"<a class=\"hub-toast-link\" href=\"{WebUtility.HtmlEncode(runLink)}\" data-testid=\"toast-view-run\">View run #{runId}</a>");
    }
}
