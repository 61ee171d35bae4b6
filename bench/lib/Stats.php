<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

final class Stats
{
    /** @param list<int|float> $values */
    public static function median(array $values): float
    {
        return self::percentile($values, 50);
    }

    /**
     * Nearest-rank percentile.
     *
     * @param list<int|float> $values
     */
    public static function percentile(array $values, float $percent): float
    {
        if ($values === []) {
            return NAN;
        }
        sort($values);
        $n = count($values);
        if ($percent == 50 && $n % 2 === 0) {
            return ($values[$n / 2 - 1] + $values[$n / 2]) / 2;
        }
        $rank = (int) ceil($percent / 100 * $n);
        return (float) $values[max(0, min($n - 1, $rank - 1))];
    }
}
