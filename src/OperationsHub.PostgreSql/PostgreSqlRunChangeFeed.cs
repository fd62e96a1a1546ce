using System.Globalization;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Feed;

namespace OperationsHub.PostgreSql;

/// <summary>
/// The change feed across nodes on one PostgreSQL database. Subscribers see <see cref="IRunChangeFeed"/> as on one
/// node: a change published here is delivered here at once, and relayed to the other nodes; a change relayed from
/// another node is published here as if it had happened here.
/// <para>
/// The relay: published changes are coalesced per run (newest version) in an outbox that one publisher loop sends as
/// <c>pg_notify</c> in a statement of its own (never inside a lifecycle transaction: PostgreSQL serialises the commits
/// of notifying transactions), ids only, in payloads under PostgreSQL's 8,000-byte limit. One LISTEN connection per
/// node receives them (Npgsql's keepalive finds a dead connection while it idles); when it is lost it reconnects with
/// backoff, and once listening again it tells every local subscriber to reload, since whatever was relayed meanwhile
/// is gone. Ids only, so a lost signal costs freshness, never truth: pages re-read the database.
/// </para>
/// </summary>
internal sealed partial class PostgreSqlRunChangeFeed : BackgroundService, IRunChangeFeed, IChangeFeedRelay
{
    internal const string Channel = "opshub_run_changes";

    /// <summary>PostgreSQL refuses a payload of 8,000 bytes or more; payloads here are ASCII, so characters are bytes.</summary>
    internal const int MaxPayloadBytes = 7_900;

    private static readonly TimeSpan MinSendInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly InProcessRunChangeFeed _local;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<PostgreSqlRunChangeFeed> _logger;
    private readonly Action? _runQueuedElsewhere;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _outboxReady = new(0, 1);
    private Dictionary<long, RunChanged> _outbox = [];
    private bool _outboxSignalled;

    public PostgreSqlRunChangeFeed(
        IOptions<DatabaseOptions> database,
        IOptions<ChangeFeedOptions> feed,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        Action? runQueuedElsewhere = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _local = new InProcessRunChangeFeed(feed, timeProvider, loggerFactory.CreateLogger<InProcessRunChangeFeed>());
        _logger = loggerFactory.CreateLogger<PostgreSqlRunChangeFeed>();
        _runQueuedElsewhere = runQueuedElsewhere;
        var builder = new NpgsqlConnectionStringBuilder(database.Value.ConnectionString)
        {
            ApplicationName = "OperationsHub feed",
            KeepAlive = 15, // an idle LISTEN connection sends a query every 15 s, so a dead one fails WaitAsync
        };
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    /// <summary>This process on the channel: its own notifications come back to it and are skipped.</summary>
    internal string NodeId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>Whether the LISTEN connection is up (readiness reports it).</summary>
    public bool Listening { get; private set; }

    public long Sequence => _local.Sequence;

    public IDisposable Subscribe(RunChangeScope scope, Func<RunChangeBatch, Task> callback) => _local.Subscribe(scope, callback);

    public void Publish(RunChanged change)
    {
        _local.Publish(change);
        Enqueue(change);
    }

    /// <summary>Into the outbox for the other nodes; a run's newest version replaces what is queued for it.</summary>
    private void Enqueue(RunChanged change)
    {
        bool signal;
        lock (_gate)
        {
            _outbox[change.RunId] = _outbox.TryGetValue(change.RunId, out var queued) ? RunChanged.Coalesce(queued, change) : change;

            signal = !_outboxSignalled;
            _outboxSignalled = true;
        }

        if (signal)
        {
            _outboxReady.Release();
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _dataSource.Dispose();
        _outboxReady.Dispose();
    }

    /// <summary>
    /// The payloads that carry <paramref name="changes"/>: <c>node|run,tenant,user,version[,p];...</c> (<c>p</c>: progress
    /// only), each under
    /// <see cref="MaxPayloadBytes"/>.
    /// </summary>
    internal static List<string> Encode(string nodeId, IEnumerable<RunChanged> changes)
    {
        var payloads = new List<string>();
        var payload = new StringBuilder(nodeId).Append('|');
        var empty = payload.Length;
        foreach (var change in changes)
        {
            var entry = string.Create(CultureInfo.InvariantCulture,
                $"{change.RunId},{change.TenantId},{change.InitiatorUserId},{change.Version}{(change.ProgressOnly ? ",p" : "")}");
            if (payload.Length > empty && payload.Length + 1 + entry.Length > MaxPayloadBytes)
            {
                payloads.Add(payload.ToString());
                payload.Length = empty;
            }

            if (payload.Length > empty)
            {
                payload.Append(';');
            }

            payload.Append(entry);
        }

        if (payload.Length > empty)
        {
            payloads.Add(payload.ToString());
        }

        return payloads;
    }

    /// <summary>The node that sent <paramref name="payload"/> and its well-formed changes (anything else is skipped).</summary>
    internal static (string NodeId, List<RunChanged> Changes) Decode(string payload)
    {
        var changes = new List<RunChanged>();
        var bar = payload.IndexOf('|', StringComparison.Ordinal);
        if (bar < 0)
        {
            return (string.Empty, changes);
        }

        foreach (var entry in payload[(bar + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split(',');
            // Four parts, or five with the progress-only mark (a node without it reads as a state change: safe).
            if ((parts.Length == 4 || (parts.Length == 5 && parts[4] == "p"))
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var runId)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var tenantId)
                && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                long? userId = long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : null;
                changes.Add(new RunChanged(runId, tenantId, userId, version, ProgressOnly: parts.Length == 5));
            }
        }

        return (payload[..bar], changes);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(RelayAsync(stoppingToken), ListenAsync(stoppingToken));

    private async Task RelayAsync(CancellationToken ct)
    {
        var backoff = FirstBackoff;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _outboxReady.WaitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Dictionary<long, RunChanged> batch;
            lock (_gate)
            {
                batch = _outbox;
                _outbox = [];
                _outboxSignalled = false;
            }

            try
            {
                await using var command = _dataSource.CreateCommand($"SELECT pg_notify('{Channel}', p) FROM unnest(@payloads) AS p");
                command.Parameters.AddWithValue("payloads", Encode(NodeId, batch.Values).ToArray());
                await command.ExecuteNonQueryAsync(ct);
                backoff = FirstBackoff;
                await Task.Delay(MinSendInterval, ct); // whatever arrives meanwhile shares the next notify
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Keep what was not sent (newer versions win), and try again after a pause.
                LogRelayFailed(_logger, ex, batch.Count, backoff);
                foreach (var change in batch.Values)
                {
                    Enqueue(change);
                }

                try
                {
                    await Task.Delay(backoff, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = Next(backoff);
            }
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        var backoff = FirstBackoff;
        var gap = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(ct);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }

                Listening = true;
                backoff = FirstBackoff;
                if (gap)
                {
                    LogListening(_logger);
                    _local.ReloadAll();
                }

                while (true)
                {
                    await connection.WaitAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Listening = false;
                gap = true;
                LogListenerLost(_logger, ex, backoff);
            }

            try
            {
                await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250)), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = Next(backoff);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        var (node, changes) = Decode(e.Payload);
        if (node == NodeId)
        {
            return; // published here already
        }

        var queued = false;
        foreach (var change in changes)
        {
            _local.Publish(change);
            queued |= change.Version == 1; // a run's first version is its insert, queued
        }

        if (queued)
        {
            // A start on another node: this node's worker claims at once instead of at its next poll.
            _runQueuedElsewhere?.Invoke();
        }
    }

    private static TimeSpan Next(TimeSpan backoff) => backoff * 2 > MaxBackoff ? MaxBackoff : backoff * 2;

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
        Message = "The change feed's listener lost its connection; reconnecting in {Backoff}")]
    private static partial void LogListenerLost(ILogger logger, Exception exception, TimeSpan backoff);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information,
        Message = "The change feed's listener is back; open pages reload what they show")]
    private static partial void LogListening(ILogger logger);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning,
        Message = "The change feed could not relay {Count} changes to other nodes; retrying in {Backoff}")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, int count, TimeSpan backoff);
}
