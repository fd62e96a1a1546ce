using Microsoft.Extensions.Options;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OperationsHub.Core.Diagnostics;

namespace OperationsHub.Web.Features.Telemetry;

public static class TelemetrySetup
{
    /// <summary>The standard OpenTelemetry variable that turns the export on (read through configuration).</summary>
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// OpenTelemetry over OTLP, only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set: the hub's traces (the
    /// "OperationsHub" source, ASP.NET Core and HttpClient), its meter (with ASP.NET Core's and HttpClient's) and its
    /// logs. The exporter reads the other standard variables itself (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, headers,
    /// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>, batch delays). Without the endpoint nothing is
    /// registered: no provider listens, so the hub's spans are never even created.
    /// </summary>
    public static IServiceCollection AddHubTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TelemetryOptions>, ValidateTelemetryOptions>();
        if (string.IsNullOrWhiteSpace(configuration[EndpointKey]))
        {
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(configuration["OTEL_SERVICE_NAME"] ?? "OperationsHub"))
            .WithTracing(tracing => tracing
                .AddSource(HubTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsQuiet(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics
                .AddMeter(HubMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddOtlpExporter())
            .WithLogging(logging => logging.AddOtlpExporter(), options => options.IncludeScopes = true);
        return services;
    }

    /// <summary>Static files, the Blazor circuit's transport and probes: thousands of spans that say nothing.</summary>
    private static bool IsQuiet(PathString path) =>
        path.StartsWithSegments("/_framework") || path.StartsWithSegments("/_content") || path.StartsWithSegments("/_blazor")
        || path.StartsWithSegments("/health") || path.StartsWithSegments("/brand");
}

/// <summary>The <c>Telemetry</c> section: how the run page links a run's trace.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";
    public const string TraceIdPlaceholder = "{traceId}";

    /// <summary>
    /// A trace viewer's address for one trace, with <c>{traceId}</c> where the 32-hex trace id goes (Jaeger:
    /// <c>http://localhost:16686/trace/{traceId}</c>); when empty, the run page shows the trace id without a link.
    /// </summary>
    public string? TraceViewerUrl { get; set; }

    /// <summary>The link for <paramref name="traceId"/>, or null without a template.</summary>
    public Uri? TraceLink(string? traceId) =>
        string.IsNullOrWhiteSpace(TraceViewerUrl) || traceId is null
            ? null
            : new Uri(TraceViewerUrl.Replace(TraceIdPlaceholder, Uri.EscapeDataString(traceId), StringComparison.Ordinal));
}

internal sealed class ValidateTelemetryOptions : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.TraceViewerUrl))
        {
            return ValidateOptionsResult.Success;
        }

        var sample = options.TraceViewerUrl.Replace(TelemetryOptions.TraceIdPlaceholder, "0", StringComparison.Ordinal);
        return options.TraceViewerUrl.Contains(TelemetryOptions.TraceIdPlaceholder, StringComparison.Ordinal)
               && Uri.TryCreate(sample, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.TraceViewerUrl)} must be an absolute http(s) address"
                + $" with {TelemetryOptions.TraceIdPlaceholder} where the trace id goes, for example"
                + " http://localhost:16686/trace/{traceId}.");
    }
}
