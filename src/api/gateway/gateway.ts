/** Gateway (`gateway.solo.io/v1`): one listener of a proxy and which VirtualServices it serves. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, AtMostOneOf, Loose, Port, ResourceRef, StringMap } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';
import { HttpListenerOptions } from './http-listener-options.js';

export const HttpGateway = Obj({
  virtualServices: Type.Optional(Type.Array(ResourceRef)),
  virtualServiceSelector: Type.Optional(StringMap),
  virtualServiceExpressions: Type.Optional(Loose('not supported yet')),
  virtualServiceNamespaces: Type.Optional(Type.Array(Type.String())),
  options: Type.Optional(HttpListenerOptions),
});

export const GatewaySpec = AtMostOneOf(['httpGateway', 'tcpGateway', 'hybridGateway'], {
  ssl: Type.Optional(Type.Boolean()),
  bindAddress: Type.Optional(Type.String()),
  bindPort: Port,
  options: Type.Optional(Loose('listener options; see docs/compatibility.md')),
  useProxyProto: Type.Optional(Type.Boolean()),
  httpGateway: Type.Optional(HttpGateway),
  tcpGateway: Type.Optional(Loose('not supported yet')),
  hybridGateway: Type.Optional(Loose('not supported yet')),
  proxyNames: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  routeOptions: Type.Optional(Loose('not supported yet')),
});
export type GatewaySpec = Static<typeof GatewaySpec>;

export const Gateway = Obj({
  apiVersion: Type.Literal('gateway.solo.io/v1'),
  kind: Type.Literal('Gateway'),
  metadata: ObjectMeta,
  spec: GatewaySpec,
  status: StatusField,
});
