<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

/** The one markdown table bench/run.php prints. */
final class Table
{
    /** @var list<list<string>> */
    private array $rows = [];

    public function __construct(private readonly array $header)
    {
    }

    /**
     * A measured row: median, min and max of $values, formatted by $format,
     * then the reference, the ratio of the median to it, the target, and whether it was met.
     *
     * @param list<float> $values
     * @param \Closure(float): string $format
     */
    public function measured(string $scenario, array $values, \Closure $format, string $reference, string $ratio, string $target, string $met): void
    {
        $this->rows[] = $values === []
            ? [$scenario, 'not run', '', '', $reference, $ratio, $target, $met]
            : [$scenario, $format(Stats::median($values)), $format(min($values)), $format(max($values)), $reference, $ratio, $target, $met];
    }

    public function render(): string
    {
        $align = ['---', '---:', '---:', '---:', '---', '---:', '---', '---'];
        $lines = ['| ' . implode(' | ', $this->header) . ' |', '|' . implode('|', $align) . '|'];
        foreach ($this->rows as $row) {
            $lines[] = '| ' . implode(' | ', $row) . ' |';
        }
        return implode("\n", $lines) . "\n";
    }

    public static function rate(float $value): string
    {
        return number_format($value);
    }

    public static function micros(float $value): string
    {
        return number_format($value, 1);
    }

    public static function millis(float $value): string
    {
        return number_format($value, 1);
    }

    public static function megabytes(float $bytes): string
    {
        return sprintf('%+.1f', $bytes / (1 << 20));
    }
}
