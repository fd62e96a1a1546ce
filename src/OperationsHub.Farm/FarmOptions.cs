namespace OperationsHub.Farm;

/// <summary>The farm's settings (section <c>Farm</c>); the nodes get <c>Database:*</c> as the farm was given it.</summary>
public sealed class FarmOptions
{
    public const string SectionName = "Farm";

    /// <summary>How many hub nodes to start.</summary>
    public int Nodes { get; set; } = 2;

    /// <summary>The first node's loopback port; the next nodes take the ports after it.</summary>
    public int FirstNodePort { get; set; } = 5181;

    /// <summary>
    /// The database every node uses: PostgreSQL, the only provider several nodes can share. Each node's pool is capped
    /// at 30 so that the nodes together stay under PostgreSQL's default <c>max_connections</c> of 100 (Npgsql's default
    /// pool of 100 per node would exhaust it with two).
    /// </summary>
    public string ConnectionString { get; set; } = "Host=localhost;Username=postgres;Password=opshub;Database=operationshub;Maximum Pool Size=30";

    public void Validate()
    {
        if (Nodes is < 1 or > 8)
        {
            throw new InvalidOperationException("Farm:Nodes must be between 1 and 8.");
        }

        if (FirstNodePort is < 1024 or > 65000)
        {
            throw new InvalidOperationException("Farm:FirstNodePort must be between 1024 and 65000.");
        }
    }
}
