using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Storage;

/// <summary>
/// Where a runs-grid read starts, per provider: the text search over targets, initiators' names and operation names
/// (SQLite: an FTS5 trigram index; PostgreSQL: a generated lower-cased column with a pg_trgm GIN index) and the path
/// to the few active runs. The grid adds its other filters and its order.
/// </summary>
public interface IRunSearch
{
    /// <summary>
    /// Runs of every tenant, narrowed, when <see cref="RunSearch.Text"/> is set, to those whose target or initiator's
    /// name contains it (a case-insensitive substring, never parsed as query syntax) or whose type is one of
    /// <see cref="RunSearch.Types"/> (the types whose name contains the text, found by the caller in the registry). <see cref="RunSearch.ActiveOnly"/> says only queued
    /// and running runs are wanted; <see cref="RunSearch.SelectiveFilters"/> that the other filters have an index of
    /// their own. Both are hints for choosing the driving index; the grid still filters on everything.
    /// </summary>
    Task<IQueryable<OperationRun>> RunsAsync(HubDbContext db, RunSearch search, CancellationToken cancellationToken);
}

/// <summary>What a grid read searches for.</summary>
public sealed record RunSearch(string? Text, bool ActiveOnly, bool SelectiveFilters)
{
    /// <summary>Operation types whose display name contains <see cref="Text"/>: their runs match too.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    /// <summary>The grid reads in run-number order (the search index's own order); false for the Created and Duration sorts.</summary>
    public bool RunNumberOrder { get; init; } = true;

    /// <summary>A LIKE pattern matching <paramref name="text"/> anywhere, with <c>\</c> escaping its wildcards.</summary>
    public static string ContainsPattern(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal) + "%";
    }
}
