using System.Collections.Frozen;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.Web.Tests;

public sealed class RunsFilterTests
{
    private static readonly IReadOnlySet<string> Known = new HashSet<string> { "backup", "restore" };

    [Fact]
    public void ToQuery_ThenParse_GivesTheSameView()
    {
        var filter = new RunsFilter
        {
            Statuses = new[] { RunStatus.Running, RunStatus.Queued }.ToFrozenSet(),
            Outcomes = new[] { RunOutcome.PartiallySucceeded }.ToFrozenSet(),
            Types = new[] { "restore", "backup" }.ToFrozenSet(),
            MineOnly = true,
            Range = RunTimeRange.Last7Days,
            Text = "Finance & Co?",
            Sort = RunsSort.Oldest,
            Page = 4,
            PageSize = 50,
        };

        var query = filter.ToQuery();
        var parsed = RunsFilter.Parse(query, Known);

        parsed.Equivalent(filter).Should().BeTrue();
        query.Should().Be("status=queued,running&outcome=partially_succeeded&type=backup,restore&mine=true&range=7d&q=Finance%20%26%20Co%3F&sort=oldest&page=5&size=50");
    }

    [Theory]
    [InlineData(RunsSort.Newest, "")]
    [InlineData(RunsSort.Oldest, "sort=oldest")]
    [InlineData(RunsSort.CreatedNewest, "sort=created-desc")]
    [InlineData(RunsSort.CreatedOldest, "sort=created-asc")]
    [InlineData(RunsSort.LongestFirst, "sort=duration-desc")]
    [InlineData(RunsSort.ShortestFirst, "sort=duration-asc")]
    public void Sort_RoundTripsThroughTheUrl(RunsSort sort, string query)
    {
        new RunsFilter { Sort = sort }.ToQuery().Should().Be(query);
        RunsFilter.Parse(query, Known).Sort.Should().Be(sort);
    }

    [Theory]
    [InlineData(RunsSort.Newest, RunsSortColumn.Run, RunsSort.Oldest)]
    [InlineData(RunsSort.Oldest, RunsSortColumn.Run, RunsSort.Newest)]
    [InlineData(RunsSort.Oldest, RunsSortColumn.Created, RunsSort.CreatedNewest)]
    [InlineData(RunsSort.CreatedNewest, RunsSortColumn.Created, RunsSort.CreatedOldest)]
    [InlineData(RunsSort.CreatedOldest, RunsSortColumn.Duration, RunsSort.LongestFirst)]
    [InlineData(RunsSort.LongestFirst, RunsSortColumn.Duration, RunsSort.ShortestFirst)]
    [InlineData(RunsSort.ShortestFirst, RunsSortColumn.Duration, RunsSort.LongestFirst)]
    [InlineData(RunsSort.ShortestFirst, RunsSortColumn.Run, RunsSort.Newest)]
    public void Toggle_StartsANewColumnDescending_AndFlipsTheCurrentOne(RunsSort current, RunsSortColumn column, RunsSort expected) =>
        RunsFilter.Toggle(current, column).Should().Be(expected);

    [Fact]
    public void DefaultView_HasAnEmptyQuery() => new RunsFilter().ToQuery().Should().BeEmpty();

    [Theory]
    [InlineData("status=bogus&outcome=pending&type=evil&range=1y&sort=sideways&page=-3&size=7")]
    [InlineData("page=99999999999&size=100000")]
    [InlineData("status=%00&q=")]
    public void Parse_DropsWhatItDoesNotUnderstand(string query)
    {
        var parsed = RunsFilter.Parse(query, Known);

        parsed.Statuses.Should().BeEmpty();
        parsed.Outcomes.Should().BeEmpty();
        parsed.Types.Should().BeEmpty();
        parsed.Range.Should().Be(RunTimeRange.All);
        parsed.Sort.Should().Be(RunsSort.Newest);
        parsed.Page.Should().Be(0);
        parsed.PageSize.Should().Be(RunsFilter.DefaultPageSize);
        parsed.Text.Should().BeNull();
    }

    [Fact]
    public void Parse_BoundsSearchText() =>
        RunsFilter.Parse("q=" + new string('a', 500), Known).Text.Should().HaveLength(RunsFilter.MaxTextLength);
}

public sealed class NewRunsTextTests
{
    [Theory]
    [InlineData(1, "1 new run matches this view")]
    [InlineData(2, "2 new runs match this view")]
    [InlineData(1200, "1,200 new runs match this view")]
    public void NewRunsText_AgreesInNumber(int count, string expected) =>
        OperationsHub.Web.Features.Operations.RunsView.NewRunsText(count).Should().Be(expected);
}
