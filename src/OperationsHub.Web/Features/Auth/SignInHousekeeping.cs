using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;

namespace OperationsHub.Web.Features.Auth;

/// <summary>
/// Writes recorded session activity and API token use every few seconds, off the requests' path; hourly, deletes what sign-in leaves
/// behind and can never matter again: sessions a day after they ended or expired, and unknown-email throttles a day
/// after their last failure. Idempotent, so every node may run it.
/// </summary>
internal sealed partial class SignInHousekeeping(
    HubSessions sessions,
    ApiTokens.ApiTokenUsage tokenUsage,
    IDbContextFactory<HubDbContext> dbFactory,
    IOptions<HubAuthenticationOptions> options,
    TimeProvider time,
    ILogger<SignInHousekeeping> logger) : BackgroundService
{
    internal static readonly TimeSpan KeepFor = TimeSpan.FromDays(1);

    /// <summary>How often recorded session activity is written.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan PruneInterval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        // Not at start-up: the first prune waits a minute, so it never races the migrations or a test's set-up.
        var nextPrune = time.GetUtcNow() + TimeSpan.FromMinutes(1);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RunSafelyAsync(() => sessions.FlushActivityAsync(stoppingToken));
                await RunSafelyAsync(() => tokenUsage.FlushAsync(stoppingToken));
                if (time.GetUtcNow() >= nextPrune)
                {
                    nextPrune = time.GetUtcNow() + PruneInterval;
                    await RunSafelyAsync(() => PruneAsync(stoppingToken));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // What the last seconds recorded is not lost on a clean stop.
        await RunSafelyAsync(() => sessions.FlushActivityAsync(CancellationToken.None));
        await RunSafelyAsync(() => tokenUsage.FlushAsync(CancellationToken.None));
    }

    private async Task RunSafelyAsync<T>(Func<Task<T>> work)
    {
        try
        {
            await work();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHousekeepingFailed(logger, ex);
        }
    }

    internal async Task<(int Sessions, int Throttles)> PruneAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().UtcDateTime - KeepFor;
        var prunedSessions = await sessions.PruneAsync(before, cancellationToken);
        var throttleBefore = before - options.Value.LockoutDuration;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var prunedThrottles = await db.SignInThrottles.Where(t => t.UpdatedAt < throttleBefore).ExecuteDeleteAsync(cancellationToken);
        return (prunedSessions, prunedThrottles);
    }

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Could not write session activity or prune ended sessions; will retry")]
    private static partial void LogHousekeepingFailed(ILogger logger, Exception exception);
}
