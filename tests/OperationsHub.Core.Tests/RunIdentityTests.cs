using OperationsHub.Core.Runs;

namespace OperationsHub.Core.Tests;

public sealed class RunIdentityTests
{
    [Fact]
    public void ComputeHash_InputsInAnyOrder_GiveTheSameHash()
    {
        var a = RunIdentity.ComputeHash(1, "backup", new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        var b = RunIdentity.ComputeHash(1, "backup", new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });

        a.Should().Be(b).And.HaveLength(64).And.MatchRegex("^[0-9a-f]{64}$");
    }

    [Theory]
    [InlineData(2L, "backup", "a", "1")]
    [InlineData(1L, "restore", "a", "1")]
    [InlineData(1L, "backup", "a", "2")]
    [InlineData(1L, "backup", "b", "1")]
    public void ComputeHash_AnyPartDiffers_GivesAnotherHash(long tenant, string type, string key, string value)
    {
        var baseline = RunIdentity.ComputeHash(1, "backup", new Dictionary<string, string> { ["a"] = "1" });

        RunIdentity.ComputeHash(tenant, type, new Dictionary<string, string> { [key] = value }).Should().NotBe(baseline);
    }

    [Fact]
    public void ComputeHash_ValuesThatConcatenateAlike_DoNotCollide()
    {
        var a = RunIdentity.ComputeHash(1, "t", new Dictionary<string, string> { ["ab"] = "c" });
        var b = RunIdentity.ComputeHash(1, "t", new Dictionary<string, string> { ["a"] = "bc" });
        var c = RunIdentity.ComputeHash(1, "t", new Dictionary<string, string> { ["a"] = "b", ["c"] = "" });

        new[] { a, b, c }.Should().OnlyHaveUniqueItems();
    }
}
