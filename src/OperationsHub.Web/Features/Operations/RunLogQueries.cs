using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Operations;

public sealed record RunLogRow(long Id, DateTime At, RunLogLevel Level, string Message);

/// <summary>A window of a run's log: the lines read, and how many lines the run has at this level in all.</summary>
public sealed record RunLogPage(IReadOnlyList<RunLogRow> Lines, int Total);

/// <summary>The reads of a run's log: the page's window (followed live) and the whole log as text, tenant-scoped.</summary>
public sealed class RunLogQueries(IDbContextFactory<HubDbContext> dbFactory)
{
    /// <summary>How many of the newest lines the run page shows; the download has them all.</summary>
    public const int WindowSize = 500;

    /// <summary>
    /// The newest <paramref name="limit"/> lines at or above <paramref name="minimum"/> that come after line
    /// <paramref name="afterId"/> (0: from the start), oldest first, with the total at that level. While the page
    /// follows a run it asks only for what came after the last line it shows.
    /// </summary>
    public async Task<RunLogPage> GetAsync(
        long tenantId, long runId, RunLogLevel minimum, long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var lines = Lines(db, tenantId, runId, minimum);
        var newest = await lines.Where(l => l.Id > afterId).OrderByDescending(l => l.Id).Take(limit)
            .Select(l => new RunLogRow(l.Id, l.At, l.Level, l.Message)).ToListAsync(cancellationToken);
        newest.Reverse();
        var total = await lines.CountAsync(cancellationToken);
        return new RunLogPage(newest, total);
    }

    /// <summary>
    /// The whole log as plain text, one line each ("2026-12-03T11:02:41.123Z  WARN  message"), written to
    /// <paramref name="output"/> as it is read. False when the run is not in the tenant.
    /// </summary>
    public async Task<bool> WriteTextAsync(long tenantId, long runId, Stream output, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (!await db.Runs.AnyAsync(r => r.Id == runId && r.TenantId == tenantId, cancellationToken))
        {
            return false;
        }

        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 16 * 1024, leaveOpen: true);
        await foreach (var line in Lines(db, tenantId, runId, RunLogLevel.Information).OrderBy(l => l.Id).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            await writer.WriteLineAsync(Format(line.At, line.Level, line.Message));
        }

        await writer.FlushAsync(cancellationToken);
        return true;
    }

    public static string Format(DateTime at, RunLogLevel level, string message) =>
        string.Create(CultureInfo.InvariantCulture, $"{at:yyyy-MM-ddTHH:mm:ss.fffZ}  {LevelTag(level),-5}  {message}");

    public static string LevelTag(RunLogLevel level) => level switch
    {
        RunLogLevel.Warning => "WARN",
        RunLogLevel.Error => "ERROR",
        _ => "INFO",
    };

    private static IQueryable<RunLogLine> Lines(HubDbContext db, long tenantId, long runId, RunLogLevel minimum)
    {
        // Levels are stored as text: "at or above" is the set of the levels it covers.
        var levels = Enum.GetValues<RunLogLevel>().Where(l => l >= minimum).ToList();
        var query = db.RunLogLines.AsNoTracking()
            .Where(l => l.RunId == runId && db.Runs.Any(r => r.Id == runId && r.TenantId == tenantId));
        return minimum == RunLogLevel.Information ? query : query.Where(l => EF.Constant(levels).Contains(l.Level));
    }
}
