using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using OperationsHub.Core.Domain;

namespace OperationsHub.PostgreSql;

/// <summary>
/// What PostgreSQL needs beyond the shared model. SQLite keeps index entries in rowid order within equal keys, so an
/// index on (tenant_id, X) already serves "filter by X, newest first"; PostgreSQL does not, so each grid index carries
/// the id as its last key. Search reads a generated lower-cased text of target and initiator through a pg_trgm GIN
/// index; the duration column is generated (stored).
/// </summary>
internal sealed class PostgreSqlModelCustomizer(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
{
    /// <summary>The shadow property of the generated search column (PostgreSQL only; SQLite searches through FTS5).</summary>
    internal const string SearchTextProperty = "SearchText";

    public override void Customize(ModelBuilder modelBuilder, DbContext context)
    {
        base.Customize(modelBuilder, context);
        modelBuilder.HasPostgresExtension("pg_trgm");

        var runs = modelBuilder.Entity<OperationRun>();
        var id = runs.Metadata.FindProperty(nameof(OperationRun.Id))!;
        var created = runs.Metadata.FindProperty(nameof(OperationRun.CreatedAt))!;
        foreach (var index in runs.Metadata.GetIndexes().ToList())
        {
            var name = index.GetDatabaseName();
            if (name is null || !name.StartsWith("ix_operation_runs_tenant", StringComparison.Ordinal)
                || index.Properties.Contains(id) || index.Properties.Contains(created))
            {
                continue;
            }

            IReadOnlyList<IMutableProperty> keys = [.. index.Properties, id];
            runs.Metadata.RemoveIndex(index);
            runs.Metadata.AddIndex(keys, name);
        }

        // The grid's search: one generated, lower-cased text of the target and the initiator's name (a newline between,
        // which no search text holds), with a pg_trgm GIN index. One LIKE per run instead of two ILIKEs: a common
        // term's capped count (which checks ~70,000 runs of a million-run tenant for "finance") costs half.
        runs.Property<string>(SearchTextProperty).HasColumnName("search_text")
            .HasComputedColumnSql("lower(coalesce(target, '') || E'\\n' || coalesce(initiator_name, ''))", stored: true);
        runs.HasIndex(SearchTextProperty)
            .HasDatabaseName("ix_operation_runs_search_text_trgm")
            .HasMethod("gin")
            .HasOperators("gin_trgm_ops");
        // Milliseconds from start to completion, 0 without both (interval arithmetic on timestamptz is immutable).
        runs.Property(r => r.DurationMs).HasComputedColumnSql(
            "COALESCE(CAST(round(EXTRACT(EPOCH FROM completed_at - started_at) * 1000) AS bigint), 0)", stored: true);
    }
}
