using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Webhooks;

/// <summary>The <c>Webhooks</c> section: how run events are sent to tenants' endpoints.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>How long one request may take, connect to last byte, before it counts as failed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Tries per delivery before it is marked failed (a re-send starts over).</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The wait after the first failed try; it doubles after each next one, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often an idle sender looks for due deliveries.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Requests in flight on this node.</summary>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>Requests in flight to one endpoint on this node: a slow receiver holds at most these slots.</summary>
    public int MaxInFlightPerEndpoint { get; set; } = 2;

    /// <summary>Whether endpoints on loopback may be registered and called (http allowed there): for tests and local use.</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>
    /// Whether link-local addresses (169.254.0.0/16, fe80::/10) may be called. Off by default: that is where cloud
    /// metadata services answer (169.254.169.254), the classic target of a webhook SSRF.
    /// </summary>
    public bool AllowLinkLocal { get; set; }

    /// <summary>The hub's public address (https://hub.example.com), for absolute links in payloads; relative when unset.</summary>
    public Uri? PublicBaseUrl { get; set; }

    /// <summary>The wait before try <paramref name="failedAttempts"/> + 1: doubling from <see cref="FirstBackoff"/>, capped.</summary>
    public TimeSpan BackoffAfter(int failedAttempts)
    {
        var factor = Math.Pow(2, Math.Clamp(failedAttempts - 1, 0, 30));
        var wait = TimeSpan.FromTicks((long)Math.Min(FirstBackoff.Ticks * factor, MaxBackoff.Ticks));
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }
}

internal sealed class ValidateWebhookOptions : IValidateOptions<WebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var failures = new List<string>();
        if (options.Timeout <= TimeSpan.Zero || options.Timeout > TimeSpan.FromMinutes(2))
        {
            failures.Add("Webhooks:Timeout must be more than 0 and at most 00:02:00.");
        }

        if (options.MaxAttempts is < 1 or > 50)
        {
            failures.Add("Webhooks:MaxAttempts must be between 1 and 50.");
        }

        if (options.FirstBackoff < TimeSpan.Zero || options.MaxBackoff < options.FirstBackoff)
        {
            failures.Add("Webhooks:FirstBackoff must be 0 or more and Webhooks:MaxBackoff at least as long.");
        }

        if (options.PollInterval <= TimeSpan.Zero)
        {
            failures.Add("Webhooks:PollInterval must be more than 0.");
        }

        if (options.MaxConcurrency is < 1 or > 256 || options.MaxInFlightPerEndpoint < 1 || options.MaxInFlightPerEndpoint > options.MaxConcurrency)
        {
            failures.Add("Webhooks:MaxConcurrency must be between 1 and 256, and Webhooks:MaxInFlightPerEndpoint between 1 and it.");
        }

        if (options.PublicBaseUrl is { } root && (!root.IsAbsoluteUri || root.Scheme is not ("https" or "http")))
        {
            failures.Add("Webhooks:PublicBaseUrl must be an absolute http(s) address.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
