<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\WireTap;

/**
 * close() with MQTT 5's DISCONNECT content, against a real mosquitto, the
 * packet read on the wire through a WireTap: reason code 4 makes the broker
 * send the will, a session expiry of 0 ends a persistent session, and bad
 * options are refused before anything is closed.
 */
final class CloseReasonTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testReasonCode4MakesTheBrokerSendTheWill(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen($prefix . '#');
        $tap = WireTap::start(static::broker());
        $will = ['will' => ['topic' => 'status', 'payload' => 'gone on purpose', 'qos' => 1]];

        $quiet = $this->connected($tap, ['prefix' => $prefix] + $will);
        $quiet->close();
        $leaving = $this->connected($tap, ['prefix' => $prefix] + $will);
        $leaving->close(['reason_code' => 4, 'reason_string' => 'deploy']);

        $this->assertSame([[$prefix . 'status', 'gone on purpose']], $listener->waitFor(1));
        $listener->sync();
        $this->assertCount(1, $listener->messages(), 'a plain close() sends no will');
        $this->assertSame([
            ['reason_code' => 0, 'properties' => []],
            ['reason_code' => 4, 'properties' => ['reason_string' => 'deploy']],
        ], $tap->disconnectsFromClient());
    }

    public function testASessionExpiryOf0AtCloseEndsAPersistentSession(): void
    {
        $tap = WireTap::start(static::broker());
        $persistent = ['clean_session' => false, 'session_expiry_interval' => 300, 'client_id' => 'kept-' . $this->uniq()];

        $this->connected($tap, $persistent)->close();
        $kept = $this->connected($tap, $persistent);
        $this->assertTrue($kept->status()['session_present'], 'a plain close() keeps the session');
        $kept->close(['session_expiry_interval' => 0]);
        $back = $this->connected($tap, $persistent);
        $this->assertFalse($back->status()['session_present'], 'the broker ended the session at the DISCONNECT');
        $back->close(['session_expiry_interval' => 0]);

        $this->assertSame(
            ['reason_code' => 0, 'properties' => ['session_expiry_interval' => 0]],
            $tap->disconnectsFromClient()[1]
        );
    }

    public function testBadCloseOptionsAreRefusedAndTheConnectionStaysOpen(): void
    {
        $topic = $this->topic('after-refusal');
        $listener = $this->listen($topic);
        $v5 = $this->client($this->options(['protocol' => '5']));
        $v311 = $this->client($this->options(['protocol' => '3.1.1']));
        foreach ([
            [$v5, ['reason_code' => 0x8E], 'argument #1 ($options) entry "reason_code" must be a reason code a client may send: 0x00 (normal disconnection), 0x04 (disconnect with will message), 0x80'],
            [$v5, ['reason_code' => '4'], 'argument #1 ($options) entry "reason_code" must be a reason code a client may send'],
            [$v5, ['session_expiry_interval' => -1], 'argument #1 ($options) entry "session_expiry_interval" must be an int of seconds from 0 to 4294967295, got -1'],
            [$v5, ['session_expiry_interval' => 60], 'argument #1 ($options) entry "session_expiry_interval" cannot be above 0 for a connection that asked for no session at CONNECT'],
            [$v5, ['reason_string' => "\xff"], 'argument #1 ($options) entry "reason_string" must be a UTF-8 string'],
            [$v5, ['reason_cod' => 4], 'argument #1 ($options) has an unknown close option "reason_cod" (did you mean "reason_code"?)'],
            [$v311, ['reason_code' => 4], 'argument #1 ($options) needs a connection with option "protocol" => "5"; this one speaks MQTT 3.1.1'],
        ] as [$client, $options, $expected]) {
            try {
                $client->close($options);
                $this->fail('close() accepted ' . json_encode($options));
            } catch (\ValueError $e) {
                $this->assertStringStartsWith($expected, $e->getMessage());
            }
        }
        foreach ([$v5, $v311] as $client) {
            $client->publishSync($topic, 'still open', 1, false, self::WAIT);
            $client->close([]);
            $this->assertSame('closed', $client->status()['state']);
        }
        $listener->waitFor(2);
        $this->assertSame(['still open', 'still open'], $listener->payloads(), 'a refused close() closed nothing');
    }

    private function connected(WireTap $tap, array $overrides): Client
    {
        $client = $this->client($this->options(['protocol' => '5', 'host' => '127.0.0.1', 'port' => $tap->port()] + $overrides));
        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        return $client;
    }
}
