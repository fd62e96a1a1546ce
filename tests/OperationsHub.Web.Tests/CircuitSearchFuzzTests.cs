using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Samples;
using OperationsHub.Testing;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>
/// Hostile search text typed into the live grid, as a user in the circuit would (not only through the server-rendered
/// page's query string), reaching each provider's real text search: the page never breaks, and shows exactly the runs
/// whose target contains the text.
/// </summary>
public abstract class CircuitSearchFuzzTests(TestProvider provider) : IAsyncLifetime
{
    private static readonly string[] Targets =
    [
        "DEV-00001", "Finance laptops", "50% off_sale", "O'Brien's mailbox", "path\\to\\share", "quote \"x\" here",
        "日本語テスト", "emoji 😀 group", "abcdef-host", "NEAR(a b) OR c*", "'; DROP TABLE operation_runs; --", "Été déjà",
    ];

    private static readonly string[] Corpus =
    [
        "dev", "DEV-0", "finance", "FINANCE LAP", "50%", "% off", "_sa", "o'b", "'s m", "\\to\\", "h\\", "\"x\"", "quote \"",
        "日本語", "😀 g", "abc\0def", "abc\u0007def", "NEAR(", "OR c*", "c*", "*", "^fin", "-host", "DROP TABLE", "; --",
        "' OR 1=1 --", "%%", "__", "ab\u0000", "\\", "\"", "\"\"\"", "Été", "déjà", "\u202Eabc", "ab", "é", "#1", "2", "#99999999999",
        "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://x}", new string('a', 150), "   dev   ", "\uD800abc",
    ];

    private readonly HubComponentContext _hub = new(provider);
    private readonly Dictionary<long, string> _targets = [];

    public async ValueTask InitializeAsync()
    {
        await _hub.InitializeAsync();
        foreach (var target in Targets)
        {
            _targets[await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.Succeeded, target: target)] = target;
        }
    }

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public void EveryHostileSearch_TypedIntoTheLiveGrid_RendersAndFindsExactlyTheMatchingRuns()
    {
        _hub.Bunit.Services.GetRequiredService<NavigationManager>().NavigateTo("/admin/t/contoso/operations");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => RunIds(view).Should().HaveCount(Targets.Length));

        string? committed = null;
        var expected = _targets.Keys.ToList();
        foreach (var term in Corpus)
        {
            Type(view, term);

            // Too short to search (and no run number): the search and the rows stay as they were, and the field says why.
            var tooShort = IsTooShort(Committed(term));
            if (!tooShort)
            {
                committed = Committed(term);
                expected = Expected(term);
            }

            view.WaitForAssertion(
                () =>
                {
                    QueryText().Should().Be(committed);
                    view.Find("[data-testid='runs-grid']").GetAttribute("aria-busy").Should().Be("false");
                    view.FindAll(".mud-input-helper-text").Any(h => h.TextContent.Contains("at least 3 characters", StringComparison.Ordinal))
                        .Should().Be(tooShort, $"the hint shows exactly while {Printable(term)} is too short");
                    if (expected.Count == 0)
                    {
                        view.FindAll("[data-testid='no-matches']").Should().ContainSingle($"nothing contains {Printable(term)}");
                    }
                    else
                    {
                        RunIds(view).Should().BeEquivalentTo(expected, $"the runs whose target contains {Printable(term)}");
                    }
                },
                TimeSpan.FromSeconds(5));
        }
    }

    private static bool IsTooShort(string committed) =>
        committed.Length is > 0 and < RunsGridQuery.MinSearchLength && !RunsGridQuery.TryParseRunNumber(committed, out _);

    /// <summary>Typed, then the field left: the debounced value is committed at once, as when a user tabs away.</summary>
    private static void Type(IRenderedComponent<RunsView> view, string term)
    {
        const string Field = "[data-testid='filter-search'] input, input[data-testid='filter-search']";
        view.WaitForAssertion(() =>
        {
            // A live re-render between finding the field and typing replaces its handlers: find it again.
            var typed = Record.Exception(() => view.Find(Field).Input(term));
            typed.Should().BeNull();
        });
        view.WaitForAssertion(() => Record.Exception(() => view.Find(Field).Blur()).Should().BeNull());
    }

    private string? QueryText()
    {
        var uri = new Uri(_hub.Bunit.Services.GetRequiredService<NavigationManager>().Uri);
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query).TryGetValue("q", out var q) ? q.ToString() : null;
    }

    /// <summary>
    /// What the field hands the filter, as the address keeps it: trimmed, cut to the longest search, and (UTF-8 in a
    /// URL having no lone surrogates) with each lone surrogate replaced by U+FFFD.
    /// </summary>
    private static string Committed(string typed)
    {
        var text = typed.Trim();
        text = text.Length > RunsFilter.MaxTextLength ? text[..RunsFilter.MaxTextLength] : text;
        return System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The oracle: what the grid promises for a typed text, computed without any database.</summary>
    private List<long> Expected(string typed)
    {
        var text = Sanitizer.RemoveControlCharacters(Committed(typed)).Trim();
        if (RunsGridQuery.TryParseRunNumber(text, out var runId))
        {
            return _targets.ContainsKey(runId) ? [runId] : [];
        }

        if (text.Length < RunsGridQuery.MinSearchLength)
        {
            // Short only once control characters are gone ("ab\0"): no search, every run.
            return [.. _targets.Keys];
        }

        // Case folds for ASCII letters on both providers; the corpus types other letters in their stored case.
        return _targets.Where(t => t.Value.Contains(text, StringComparison.OrdinalIgnoreCase)).Select(t => t.Key).ToList();
    }

    private static string Printable(string term) =>
        string.Concat(term.Take(40).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    private static IEnumerable<long> RunIds(IRenderedComponent<RunsView> view) => HubComponentContext.RunIds(view);
}

public sealed class CircuitSearchFuzzTestsOnSqlite() : CircuitSearchFuzzTests(TestProvider.Sqlite);

public sealed class CircuitSearchFuzzTestsOnPostgreSql() : CircuitSearchFuzzTests(TestProvider.PostgreSql);
