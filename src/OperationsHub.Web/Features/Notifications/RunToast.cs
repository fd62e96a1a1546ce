using System.Net;
using Microsoft.AspNetCore.Components;

namespace OperationsHub.Web.Features.Notifications;

/// <summary>
/// The one shape of a toast about a run, wherever it is raised (a start surface, the bell's live feed): what happened,
/// the run's number, what it works on and where, and "View run #41" as a real link. Every text is encoded.
/// </summary>
internal static class RunToast
{
    public static MarkupString Markup(string headline, long runId, string runLink, params string?[] details)
    {
        var tail = string.Concat(details.Where(d => !string.IsNullOrEmpty(d)).Select(d => " · " + WebUtility.HtmlEncode(d)));
        return new MarkupString(
            $"<span class=\"hub-toast-text\">{WebUtility.HtmlEncode(headline)} <strong>#{runId}</strong>{tail}</span> "
            + $"<a class=\"hub-toast-link\" href=\"{WebUtility.HtmlEncode(runLink)}\" data-testid=\"toast-view-run\">View run #{runId}</a>");
    }
}
