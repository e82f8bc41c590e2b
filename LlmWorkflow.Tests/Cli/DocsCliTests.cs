using System.Text;
using System.Text.RegularExpressions;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// docs/CLI.md stays true: every <c>$ llmwf …</c> transcript is run (in doc order, after writing the
/// <c>json file=…</c> (or <c>markdown file=…</c>) blocks it refers to, in a copy of the repository's workflows) and must print exactly what the
/// page shows (as a redirected process, without provider keys; a block ending in <c>...</c> is an excerpt of the
/// first lines); every command of the tool is documented; every <c>llmwf</c> line of a bash example parses.
/// </summary>
[SystemTest]
public sealed partial class DocsCliTests : IDisposable
{
    private static readonly string CliDoc = Path.Combine(RepositoryPaths.Root, "docs", "CLI.md");

    /// <summary>The page describes a fresh clone: no provider keys, whatever the machine running the tests has.</summary>
    private static readonly Dictionary<string, string> WithoutProviderKeys = new()
    {
        ["OPENROUTER_API_KEY"] = "",
        ["OPENAI_API_KEY"] = "",
        ["ANTHROPIC_API_KEY"] = "",
    };

    private readonly TempWorkflows _project = new();

    public DocsCliTests()
    {
        foreach (var folder in new[] { "definitions", "prompts", "examples", "mock-responses" })
        {
            var from = Path.Combine(RepositoryPaths.Workflows, folder);
            foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(_project.Workflows, folder, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
            }
        }
    }

    [Fact]
    public async Task EveryTranscriptPrintsWhatThePageShows()
    {
        var blocks = Blocks(File.ReadAllText(CliDoc));
        var transcripts = 0;
        var failures = new StringBuilder();
        foreach (var (info, lines) in blocks)
        {
            if (FileBlock().Match(info) is { Success: true } file)
            {
                _project.File(file.Groups[1].Value, string.Join('\n', lines) + "\n");
                continue;
            }

            if (info != "text" || lines.Count == 0 || !lines[0].StartsWith("$ llmwf ", StringComparison.Ordinal))
            {
                continue;
            }

            transcripts++;
            var result = await CliHarness.RunProcessAsync(_project.Root, WithoutProviderKeys, ShellWords(lines[0]["$ llmwf ".Length..]));
            var shown = lines.Skip(1).Select(l => l.TrimEnd()).ToList();
            var excerpt = shown is [.., "..."];
            var printed = result.Out.TrimEnd('\n').Split('\n').Select(l => l.TrimEnd()).ToList();
            var expected = string.Join('\n', excerpt ? shown[..^1] : shown);
            var actual = string.Join('\n', excerpt ? printed.Take(shown.Count - 1) : printed);
            if (expected != actual)
            {
                failures.Append($"--- {lines[0]}\n--- the page shows:\n{expected}\n--- the tool printed (exit {result.ExitCode}):\n{actual}\n{result.Error}\n");
            }
        }

        Assert.True(transcripts >= 5, $"Only {transcripts} transcripts found in docs/CLI.md.");
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void EveryCommandIsDocumented()
    {
        var doc = File.ReadAllText(CliDoc);
        var commands = CliApp.CreateRootCommand(Console()).Subcommands.Select(c => c.Name).ToList();

        Assert.Contains("edit", commands);
        Assert.All(commands, name => Assert.Contains($"`{name}", doc));
    }

    [Fact]
    public void EveryExampleCommandLineParses()
    {
        var lines = Blocks(File.ReadAllText(CliDoc))
            .Where(b => b.Info is "bash")
            .SelectMany(b => b.Lines)
            .Select(line => line.Split("  #", 2)[0].Trim())
            .Where(line => line.StartsWith("llmwf ", StringComparison.Ordinal))
            .ToList();

        Assert.NotEmpty(lines);
        Assert.All(lines, line =>
        {
            var parsed = CliApp.CreateRootCommand(Console()).Parse(ShellWords(line["llmwf ".Length..]));
            Assert.True(parsed.Errors.Count == 0, $"{line}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        });
    }

    public void Dispose() => _project.Dispose();

    private static CliConsole Console() => new() { Out = TextWriter.Null, Error = TextWriter.Null };

    /// <summary>Fenced blocks: info string and lines.</summary>
    private static List<(string Info, List<string> Lines)> Blocks(string markdown)
    {
        var blocks = new List<(string, List<string>)>();
        List<string>? current = null;
        var info = "";
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (current is null)
                {
                    info = line[3..].Trim();
                    current = [];
                }
                else
                {
                    blocks.Add((info, current));
                    current = null;
                }
            }
            else
            {
                current?.Add(line);
            }
        }

        return blocks;
    }

    /// <summary>Splits a command line like a POSIX shell for the cases the page uses: spaces, '…' and "…".</summary>
    private static string[] ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return [.. words];
    }

    [GeneratedRegex(@"^\w+ file=(\S+)$")]
    private static partial Regex FileBlock();
}
