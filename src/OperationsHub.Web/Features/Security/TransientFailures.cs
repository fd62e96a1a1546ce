using System.Text.Encodings.Web;
using OperationsHub.Core.Storage;

namespace OperationsHub.Web.Features.Security;

/// <summary>
/// A database that cannot take a request right now (PostgreSQL out of connections or failing over, SQLite locked past
/// its busy timeout) answers 503 with Retry-After wherever it happens (a session check, a page's query, an API call),
/// never a 500: a problem details body for the API, a short page with a way to try again for people. What counts as
/// transient is the provider's decision (<see cref="IRunStore.IsTransient"/>).
/// </summary>
internal static partial class TransientFailures
{
    /// <summary>What every 503 of a busy hub says, here and in the API's own refusals (<c>RunsApi</c>).</summary>
    public const string BusyTitle = "The hub is busy; try again shortly.";

    /// <summary>The Retry-After of every 503 of a busy hub.</summary>
    public const int RetryAfterSeconds = 5;

    public static IApplicationBuilder UseTransientFailureAnswers(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && context.RequestServices.GetRequiredService<IRunStore>().IsTransient(ex))
        {
            LogBusy(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TransientFailures)), ex, context.Request.Path);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            const string detail = "The database could not take this request just now. Nothing is lost: try again in a few seconds.";
            if (context.Request.Path.StartsWithSegments("/api"))
            {
                await Results.Problem(title: BusyTitle, detail: detail, statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context);
                return;
            }

            var again = HtmlEncoder.Default.Encode(context.Request.PathBase + context.Request.Path + context.Request.QueryString);
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(
                $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Busy - OperationsHub</title></head>"
                + $"<body><main><h1>{BusyTitle}</h1><p>{detail}</p><p><a href=\"{again}\">Try again</a></p></main></body></html>");
        }
    });

    [LoggerMessage(EventId = 1951, Level = LogLevel.Warning, Message = "The database was busy for {Path}; answered 503")]
    private static partial void LogBusy(ILogger logger, Exception exception, PathString path);
}
