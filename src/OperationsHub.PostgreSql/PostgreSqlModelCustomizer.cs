using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using OperationsHub.Core.Domain;

namespace OperationsHub.PostgreSql;

/// <summary>
/// What PostgreSQL needs beyond the shared model. SQLite keeps index entries in rowid order within equal keys, so an
/// index on (tenant_id, X) already serves "filter by X, newest first"; PostgreSQL does not, so each grid index carries
/// the id as its last key. Target and initiator search get pg_trgm GIN indexes, which serve case-insensitive substring
/// ILIKE; the duration column is generated (stored).
/// </summary>
internal sealed class PostgreSqlModelCustomizer(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
{
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

        runs.HasIndex(r => r.Target)
            .HasDatabaseName("ix_operation_runs_target_trgm")
            .HasMethod("gin")
            .HasOperators("gin_trgm_ops");
        // The grid's search also matches who started a run.
        runs.HasIndex(r => r.InitiatorName)
            .HasDatabaseName("ix_operation_runs_initiator_name_trgm")
            .HasMethod("gin")
            .HasOperators("gin_trgm_ops");
        // Milliseconds from start to completion, 0 without both (interval arithmetic on timestamptz is immutable).
        runs.Property(r => r.DurationMs).HasComputedColumnSql(
            "COALESCE(CAST(round(EXTRACT(EPOCH FROM completed_at - started_at) * 1000) AS bigint), 0)", stored: true);
    }
}
