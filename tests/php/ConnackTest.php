<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * What the broker's CONNACK says, in status(), against a real mosquitto: the
 * session-present flag, and (MQTT 5) the client id the broker assigns when
 * option client_id is empty.
 */
final class ConnackTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testStatusTellsWhetherTheBrokerKeptTheSession(): void
    {
        $id = 'php-' . $this->uniq();
        $options = $this->options(['client_id' => $id, 'clean_session' => false]);
        $first = $this->connected($options, 'first');
        $this->assertFalse($first->status()['session_present'], 'a new session');
        $first->close();

        $second = $this->connected($options, 'second');
        $this->assertTrue($second->status()['session_present'], 'the broker kept it: ' . json_encode($second->status()));
        $second->close();

        $clean = $this->connected($this->options(), 'clean');
        $this->assertFalse($clean->status()['session_present']);
    }

    public function testBeforeConnectingNoSessionIsPresent(): void
    {
        $client = new Client($this->options(['port' => 1, 'reconnect' => ['max_retries' => 1, 'initial_delay' => 0.1]]), 'nowhere-' . $this->uniq());
        $this->assertNull($client->status()['session_present']);
        $client->close();
    }

    public function testAnEmptyClientIdLetsAnMqtt5BrokerAssignOne(): void
    {
        $client = $this->client($this->options(['protocol' => '5', 'client_id' => '']));
        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        $assigned = $client->status()['client_id'];
        $this->assertIsString($assigned);
        $this->assertNotSame('', $assigned, 'the broker assigned an id');
        $this->assertStringContainsString($assigned, self::broker()->log(), 'the id the broker logged');

        // The connection works with it, request/response included.
        $subscriber = new \Mqtt\Subscriber([$client]);
        $subscriber->subscribe($this->topic('a'), 1, self::WAIT);
        $client->publishSync($this->topic('a'), 'with an assigned id', 1, false, self::WAIT);
        $this->assertSame('with an assigned id', $this->collect($subscriber, 1, 'a message')[0]->payload);
    }

    public function testAnEmptyClientIdNeedsMqtt5AndACleanSession(): void
    {
        foreach ([
            [['protocol' => '3.1.1', 'client_id' => ''], 'option "client_id" must not be empty with MQTT 3.1.1 (leave it out or set it to null to get a generated one; with option "protocol" => "5" an empty one lets the broker assign one), got ""'],
            [['protocol' => '5', 'client_id' => '', 'clean_session' => false], 'option "clean_session" set to false requires option "client_id" (a persistent session needs a stable client id)'],
        ] as [$options, $expected]) {
            try {
                new Client($this->options($options), 'bad-' . $this->uniq());
                $this->fail('accepted ' . json_encode($options));
            } catch (ConfigException $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
    }

    private function connected(array $options, string $name): Client
    {
        $client = $this->client($options, "$name-" . $this->uniq());
        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        return $client;
    }
}
