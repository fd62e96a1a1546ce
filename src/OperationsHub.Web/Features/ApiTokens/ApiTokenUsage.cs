using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;

namespace OperationsHub.Web.Features.ApiTokens;

/// <summary>
/// When each token was last used, recorded in memory by the token handler and written every few seconds by the sign-in
/// housekeeping, never on a request's path: a script's call is answered even while the database is busy writing.
/// </summary>
public sealed class ApiTokenUsage(IDbContextFactory<HubDbContext> dbFactory)
{
    private readonly ConcurrentDictionary<long, DateTime> _pending = new();

    public void Record(long tokenId, DateTime at) => _pending[tokenId] = at;

    /// <summary>Writes what was recorded, one short statement per token; what fails stays for the next flush.</summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        var written = 0;
        foreach (var entry in _pending.ToArray())
        {
            var (id, at) = (entry.Key, entry.Value);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            // Only forward: a late flush of an older use never moves "last used" back.
            written += await db.ApiTokens.Where(t => t.Id == id && (t.LastUsedAt == null || t.LastUsedAt < at))
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, at), cancellationToken);
            _pending.TryRemove(entry);
        }

        return written;
    }
}
