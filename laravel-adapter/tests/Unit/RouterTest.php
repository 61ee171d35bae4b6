<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Unit;

use MqttBroadcast\Laravel\Routing\Router;
use PHPUnit\Framework\TestCase;

final class RouterTest extends TestCase
{
    public function test_groups_prefix_their_routes_and_fallbacks_and_pass_their_connection_down(): void
    {
        $router = new Router();
        $router->route('status', 'App\\Status');
        $router->group(['prefix' => 'metrics/', 'connection' => 'iot'], function () use ($router): void {
            $router->route('{tenant}/{metric}', 'App\\Metric');
            $router->group(['prefix' => 'logs'], function () use ($router): void {
                $router->route('{app}/{path*}', 'App\\Log');
                $router->fallback('#');
            });
        });
        self::assertSame(
            [['status', 'status', null], ['metrics/{tenant}/{metric}', 'metrics/+/+', 'iot'], ['metrics/logs/{app}/{path*}', 'metrics/logs/+/#', 'iot']],
            array_map(static fn ($r) => [$r->pattern, $r->filter(), $r->connection], $router->routes())
        );
        self::assertSame([['filter' => 'metrics/logs/#', 'connection' => 'iot']], $router->fallbacks());
    }

    public function test_constraints_match_whole_levels_and_say_why_a_value_fails(): void
    {
        $route = (new Router())->route('m/{tenant}/{agent}/{metric}', 'App\\Metric')
            ->whereUuid('tenant')
            ->where('agent', 'a-\d+')
            ->whereIn('metric', ['cpu', 'disk']);
        $uuid = '0b9c1f4e-6a7d-4e2b-9f3a-2c8d5e6f7a81';
        self::assertNull($route->violation(['tenant' => $uuid, 'agent' => 'a-1', 'metric' => 'cpu']));
        self::assertSame('level {tenant} "x" is not a UUID', $route->violation(['tenant' => 'x', 'agent' => 'a-1', 'metric' => 'cpu']));
        self::assertSame('level {agent} "a-1x" does not match a-\d+', $route->violation(['tenant' => $uuid, 'agent' => 'a-1x', 'metric' => 'cpu']));
        self::assertSame("level {agent} \"a-1\n\" does not match a-\\d+", $route->violation(['tenant' => $uuid, 'agent' => "a-1\n", 'metric' => 'cpu']));
        self::assertSame('level {metric} "cpux" is not one of cpu, disk', $route->violation(['tenant' => $uuid, 'agent' => 'a-1', 'metric' => 'cpux']));
        self::assertSame(['tenant' => 'uuid', 'agent' => 'a-\d+', 'metric' => 'in:cpu,disk'], $route->constraints());
    }

    public function test_a_constraint_on_a_level_the_pattern_does_not_name_or_a_broken_expression_throws(): void
    {
        $route = (new Router())->route('m/{tenant}', 'App\\Metric');
        try {
            $route->whereUuid('tennant');
            self::fail('constrained a level that does not exist');
        } catch (\InvalidArgumentException $e) {
            self::assertSame('MQTT route "m/{tenant}" has no level named {tennant} to constrain.', $e->getMessage());
        }
        $this->expectExceptionMessage('MQTT route "m/{tenant}": the constraint of {tenant} is not a valid regular expression: [a-');
        $route->where('tenant', '[a-');
    }

    public function test_groups_take_only_a_prefix_and_a_connection(): void
    {
        $this->expectExceptionMessage('MQTT route groups take "prefix" and "connection", not "middleware".');
        (new Router())->group(['middleware' => 'x'], static fn () => null);
    }
}
