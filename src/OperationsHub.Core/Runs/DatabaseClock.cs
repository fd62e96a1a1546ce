using Microsoft.Extensions.Logging;
using OperationsHub.Core.Storage;

namespace OperationsHub.Core.Runs;

/// <summary>
/// The clock of the run lifecycle: this node's clock corrected to the database's. Nodes on several machines write and
/// compare lease expiries in one table; if each used its own clock, a node running ahead would find other nodes' live
/// leases expired and take their runs, and one running behind would keep dead runs longer. So every node reads the
/// database's clock (<see cref="IRunStore.ReadClockAsync"/>) now and then, and lifecycle times are its own clock plus
/// the difference it measured (corrected for half the round trip). Differences under <see cref="Tolerance"/> are
/// taken as none: an NTP-synced machine is within it, and a few milliseconds change no lease decision.
/// </summary>
public sealed partial class DatabaseClock(IRunStore store, TimeProvider time, ILogger<DatabaseClock> logger)
{
    /// <summary>Smaller differences are measurement noise (a round trip) for a lease of seconds.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan WarnAbove = TimeSpan.FromSeconds(1);
    private long _offsetTicks;

    /// <summary>What to add to this node's clock to read the database's (zero until measured, and within tolerance).</summary>
    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    /// <summary>Now on the database's clock, as far as the last measurement knows.</summary>
    public DateTime UtcNow => time.GetUtcNow().UtcDateTime + Offset;

    /// <summary>Measures the difference now; on failure keeps the last one (the lifecycle's own writes will say why).</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        var before = time.GetTimestamp();
        var localBefore = time.GetUtcNow().UtcDateTime;
        DateTime database;
        try
        {
            database = await store.ReadClockAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogSyncFailed(logger, ex);
            return;
        }

        var roundTrip = time.GetElapsedTime(before);
        var offset = database - (localBefore + (roundTrip / 2));
        var applied = offset.Duration() < Tolerance ? TimeSpan.Zero : offset;
        var previous = Interlocked.Exchange(ref _offsetTicks, applied.Ticks);
        if (offset.Duration() > WarnAbove && previous != applied.Ticks)
        {
            LogSkew(logger, offset.TotalSeconds);
        }
    }

    [LoggerMessage(EventId = 1501, Level = LogLevel.Warning,
        Message = "This node's clock is {Seconds:F1} s off the database's; run times and leases follow the database's clock")]
    private static partial void LogSkew(ILogger logger, double seconds);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning,
        Message = "Could not read the database's clock; lease times keep the last measured difference")]
    private static partial void LogSyncFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Keeps <see cref="DatabaseClock"/> measured on every node, pages-only nodes included: once before the host's other
/// services start (so the worker's first leases are on the database's clock), then every
/// <see cref="Worker.WorkerOptions.ClockSyncInterval"/>.
/// </summary>
internal sealed class DatabaseClockSync(
    DatabaseClock clock, Microsoft.Extensions.Options.IOptions<Worker.WorkerOptions> options, TimeProvider time)
    : Microsoft.Extensions.Hosting.BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await clock.SyncAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ClockSyncInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await clock.SyncAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }
}
