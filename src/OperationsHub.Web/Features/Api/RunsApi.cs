using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Api;

/// <summary>The start-surface API for other apps: the same run flow, tenancy and role rules as the pages.</summary>
public sealed record StartRunBody(
    string? Type,
    Dictionary<string, string>? IdentityInputs,
    string? Target,
    Dictionary<string, string>? Inputs);

public sealed record RunLinks(string Self, string Page);

public sealed record RunResource(
    long Id,
    string Type,
    [property: JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))] RunStatus Status,
    [property: JsonConverter(typeof(JsonStringEnumConverter<RunOutcome>))] RunOutcome Outcome,
    bool Deduped,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    int Total,
    int Processed,
    int Succeeded,
    int Failed,
    int Skipped,
    RunLinks Links);

internal static class RunsApi
{
    /// <summary>Friendly HTML status pages are for people; API callers keep the bare status (and problem details).</summary>
    public static IApplicationBuilder UseApiStatusCodes(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.Request.Path.StartsWithSegments("/api")
            && context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
        {
            pages.Enabled = false;
        }

        return next(context);
    });

    /// <summary>Start requests are small; anything bigger is refused before it is read.</summary>
    public const long MaxBodyBytes = 32 * 1024;

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder endpoints)
    {
        // Anonymous API calls get 401, never a sign-in redirect: both sign-in modes check for /api (AuthenticationSetup).
        // No antiforgery token: the body must be JSON, which a cross-site form or link cannot send without CORS.
        var api = endpoints.MapGroup("/api/t/{tenantExternalId}/operations")
            .RequireAuthorization()
            .DisableAntiforgery();
        api.MapPost("/", StartAsync);
        api.MapGet("/{operationRunId}", GetAsync);
        return endpoints;
    }

    private static async Task<IResult> StartAsync(
        string tenantExternalId, HttpContext context, RunCommands commands, IDbContextFactory<HubDbContext> dbFactory,
        CancellationToken cancellationToken)
    {
        if (!context.Request.HasJsonContentType())
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Send the request as JSON.",
                "Use Content-Type: application/json with a body like {\"type\":\"inventory_sync\"}.");
        }

        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return TooLarge();
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        StartRunBody? body;
        try
        {
            body = await context.Request.ReadFromJsonAsync<StartRunBody>(cancellationToken);
        }
        catch (JsonException ex)
        {
            return Problem(StatusCodes.Status400BadRequest, "The request body is not valid JSON.",
                ex.LineNumber is { } line ? $"Check the JSON near line {line + 1}, position {ex.BytePositionInLine + 1}." : "Check the JSON syntax.");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }

        if (body is null || string.IsNullOrWhiteSpace(body.Type))
        {
            return Validation("type", "Name the operation type to start, for example \"inventory_sync\".");
        }

        var result = await commands.StartAsync(context.User, tenantExternalId,
            new StartRunInput(body.Type, body.IdentityInputs, body.Target, body.Inputs), cancellationToken);
        switch (result.Status)
        {
            case CommandStatus.Ok:
                // One read of the row, so status, times and counts are one moment's (a deduped run that is running
                // says when it started and how far it got, never "Running" beside a null start).
                await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
                {
                    var resource = await ReadResourceAsync(db, tenantExternalId, result.Value!.Run.Id, result.Value.Deduped, cancellationToken);
                    return result.Value.Deduped
                        ? Results.Ok(resource)
                        : Results.Accepted(resource.Links.Page, resource);
                }

            case CommandStatus.Invalid:
                return Validation(result.Field ?? "request", result.Message ?? "The request is not valid.");
            default:
                return Refusal(result.Status, result.Message);
        }
    }

    private static async Task<IResult> GetAsync(
        string tenantExternalId, string operationRunId, ClaimsPrincipal user, TenantAccess access,
        IDbContextFactory<HubDbContext> dbFactory, CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveRunAsync(user, tenantExternalId, operationRunId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return Refusal(resolved.Status switch
            {
                AccessStatus.NotFound => CommandStatus.NotFound,
                AccessStatus.Unauthenticated => CommandStatus.Unauthenticated,
                _ => CommandStatus.Forbidden,
            }, null);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return Results.Ok(await ReadResourceAsync(db, tenantExternalId, resolved.RunId, deduped: false, cancellationToken));
    }

    private static async Task<RunResource> ReadResourceAsync(
        HubDbContext db, string tenant, long runId, bool deduped, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == runId).SingleAsync(cancellationToken);
        var self = $"/api/t/{Uri.EscapeDataString(tenant)}/operations/{run.Id.ToString(CultureInfo.InvariantCulture)}";
        return new RunResource(run.Id, run.Type, run.Status, run.Outcome, deduped, run.CreatedAt, run.StartedAt, run.CompletedAt,
            run.TotalCount, run.ProcessedCount, run.SucceededCount, run.FailedCount, run.SkippedCount,
            new RunLinks(self, HubLinks.Run(tenant, run.Id)));
    }

    private static IResult Refusal(CommandStatus status, string? message) => status switch
    {
        CommandStatus.Unauthenticated => new Challenge(Problem(StatusCodes.Status401Unauthorized, "Sign in first.",
            "This API needs a signed-in session; the one this request carried has ended.")),
        CommandStatus.NotFound => Problem(StatusCodes.Status404NotFound, "Not found.", "The tenant or run does not exist."),
        CommandStatus.Conflict => Problem(StatusCodes.Status409Conflict, "Conflict.", message),
        CommandStatus.Unavailable => new RetryAfter(
            Problem(StatusCodes.Status503ServiceUnavailable, Security.TransientFailures.BusyTitle, message),
            Security.TransientFailures.RetryAfterSeconds),
        _ => Problem(StatusCodes.Status403Forbidden, "Forbidden.", message ?? "You do not have access to this tenant or run."),
    };

    /// <summary>A 401 with its WWW-Authenticate header, as the authentication handler's own 401 has.</summary>
    private sealed record Challenge(IResult Inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.WWWAuthenticate = Auth.AuthenticationSetup.ApiChallenge;
            return Inner.ExecuteAsync(httpContext);
        }
    }

    /// <summary>A result with a Retry-After header: a busy database is a passing condition.</summary>
    private sealed record RetryAfter(IResult Inner, int Seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = Seconds.ToString(CultureInfo.InvariantCulture);
            return Inner.ExecuteAsync(httpContext);
        }
    }

    private static IResult TooLarge() => Problem(StatusCodes.Status413PayloadTooLarge, "The request body is too large.",
        $"A start request may be at most {MaxBodyBytes / 1024} KB.");

    private static IResult Validation(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "The request is not valid.");

    private static IResult Problem(int status, string title, string? detail) =>
        Results.Problem(title: title, detail: detail, statusCode: status);
}
