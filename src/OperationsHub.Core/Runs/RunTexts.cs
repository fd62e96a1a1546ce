using System.Globalization;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Runs;

/// <summary>The words the engine writes into timelines and notifications, in one place.</summary>
internal static class RunTexts
{
    /// <summary>" Reason: …" after an event's text when a reason was given (already sanitized), else nothing.</summary>
    public static string Reason(string? reason) => string.IsNullOrWhiteSpace(reason) ? "" : $" Reason: {reason}";

    public static string OutcomeText(RunOutcome outcome) => outcome switch
    {
        RunOutcome.Succeeded => "succeeded",
        RunOutcome.PartiallySucceeded => "partially succeeded",
        RunOutcome.Failed => "failed",
        RunOutcome.Cancelled => "was cancelled",
        _ => "is pending",
    };

    public static string CountsText(RunCounts counts)
    {
        if (counts.Total == 0 && counts.Processed == 0 && counts.Succeeded == 0 && counts.Failed == 0)
        {
            return "No items were processed.";
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{counts.Processed} of {Math.Max(counts.Total, counts.Processed)} items processed: {counts.Succeeded} succeeded, {counts.Failed} failed, {counts.Skipped} skipped.");
    }

    public static string CompletedEvent(RunOutcome outcome, RunCounts counts, RunFailure? firstFailure)
    {
        var text = $"Completed: {OutcomeText(outcome)}. {CountsText(counts)}";
        return firstFailure is null ? text : $"{text} First failure: {firstFailure.Code}: {firstFailure.Message}";
    }

    public static string QueuedTitle(string displayName) => $"{displayName} queued";

    public static string CompletedTitle(string displayName, RunOutcome outcome) => $"{displayName} {OutcomeText(outcome)}";
}
